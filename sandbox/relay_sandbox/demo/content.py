"""The demo's sample live blog (written for this project; the places and people are invented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from relay_sandbox.demo import images

# The sample topics, in the config file's shape.
TOPICS: tuple[dict[str, Any], ...] = (
    {
        "slug": "storm",
        "title": "Storm Halvard",
        "description": "The storm on the coast, hour by hour",
        "color": "#1f6feb",
        "hashtag": "#Halvard",
        "pin_breaking": True,
    },
    {
        "slug": "council",
        "title": "City council",
        "description": "Budget talks at the town hall",
        "color": "#d9822b",
        "hashtag": "#KesselCouncil",
        "silent": True,
        "link_previews": "off",
    },
    {
        "slug": "transit",
        "title": "Trains and ferries",
        "description": "Closures, delays and reopenings",
        "color": "#2e9e5b",
        "hashtag": "#KesselTransit",
    },
)

Action = Literal["publish", "edit", "delete"]


@dataclass(frozen=True)
class Step:
    """One move of the sample blog: what the terminal says, and the update's JSON fields."""

    say: str
    action: Action
    update_id: str
    fields: dict[str, Any] = field(default_factory=dict)


def script(base_url: str) -> tuple[Step, ...]:
    """The sample blog, with photos served by the demo at `base_url`."""

    def photo(name: str, caption: str, credit: str) -> dict[str, str]:
        return {"url": base_url + images.path(name), "caption": caption, "credit": credit}

    return (
        Step(
            "a first update: headline, paragraphs, bold and italics",
            "publish",
            "halvard-1",
            {
                "topic": "storm",
                "headline": "Storm Halvard reaches the coast north of Kessel Bay",
                "body": (
                    "The storm came ashore just after **six this morning**, an hour earlier than "
                    "the weather office had expected.\n\n"
                    "Gusts of _up to 130 km/h_ were measured on the northern headland. Schools in "
                    "the bay area stay closed today."
                ),
                "author": "Live desk",
            },
        ),
        Step(
            "a photo with its caption and credit",
            "publish",
            "halvard-2",
            {
                "topic": "storm",
                "headline": "Waves break over the old harbour wall",
                "body": "Residents of the harbour streets are asked to move their cars to higher "
                "ground before the evening high tide.",
                "image": photo(
                    "harbour",
                    "Spray over the harbour wall, shortly after 8am",
                    "Demo Photo / Ada Lind",
                ),
                "author": "Ada Lind, Kessel Bay",
            },
        ),
        Step(
            "another topic, with a Read: link in the body",
            "publish",
            "council-1",
            {
                "topic": "council",
                "headline": "Council puts off its budget vote until Thursday",
                "body": (
                    "Members agreed to meet again once the storm has passed. The mayor said the "
                    "repair costs would have to be **part of the budget**.\n\n"
                    "Read: [What is in the draft budget](https://example.org/kessel/budget-draft)"
                ),
                "image": photo("hall", "The town hall on Market Square", "Demo Photo / Tom Reis"),
            },
        ),
        Step(
            "a quoted post",
            "publish",
            "halvard-3",
            {
                "topic": "storm",
                "headline": "Coastguard: keep off the piers tonight",
                "body": (
                    "The coastguard posted this warning an hour ago:\n\n"
                    "> Do not walk on the piers or the sea walls tonight. Waves are reaching "
                    "six metres and can sweep a person off their feet.\n\n"
                    "Two people were helped back to shore at the north pier this afternoon."
                ),
            },
        ),
        Step(
            "a posting mistake (deleted again in the next step)",
            "publish",
            "halvard-x",
            {
                "topic": "storm",
                "headline": "Waves break over the old harbour wall",
                "body": "(sent twice by mistake)",
            },
        ),
        Step("a deletion: the duplicate disappears everywhere", "delete", "halvard-x"),
        Step(
            "breaking news (pinned in Telegram)",
            "publish",
            "halvard-4",
            {
                "topic": "storm",
                "breaking": True,
                "headline": "Evacuation ordered for the low streets of the east quarter",
                "body": (
                    "The city has opened the **sports hall on Linden Road** as a shelter. Buses "
                    "leave from the east quarter every _twenty minutes_ until midnight."
                ),
                "link": "https://example.org/kessel/evacuation-map",
                "image": photo(
                    "rain", "Rain over the east quarter at dusk", "Demo Photo / Ada Lind"
                ),
            },
        ),
        Step(
            "trains and ferries, with a Read more link",
            "publish",
            "transit-1",
            {
                "topic": "transit",
                "headline": "No ferries to the islands until tomorrow noon",
                "body": "The ferry company has moved its boats to the inner harbour. The coastal "
                "railway runs a reduced timetable.",
                "link": "https://example.org/kessel/transit",
            },
        ),
        Step(
            "an edit: the photo update gets a new headline",
            "edit",
            "halvard-2",
            {
                "headline": "Waves break over the harbour wall and flood the fish market",
            },
        ),
        Step(
            "a correction, shown in every copy",
            "edit",
            "halvard-3",
            {
                "body": (
                    "The coastguard posted this warning an hour ago:\n\n"
                    "> Do not walk on the piers or the sea walls tonight. Waves are reaching "
                    "four metres and can sweep a person off their feet.\n\n"
                    "Two people were helped back to shore at the north pier this afternoon.\n\n"
                    "_Correction: an earlier version of this update quoted a wave height of six "
                    "metres; the coastguard's warning says four._"
                ),
            },
        ),
    )
