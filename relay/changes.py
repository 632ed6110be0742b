"""An edit as a typed record: the fields it changes, parsed by the same parsers as an `Update`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, Final

from relay import model
from relay.errors import InvalidUpdate
from relay.i18n import N_
from relay.model import Action, Image, Update


class Unset(Enum):
    """The type of `UNSET`: a field an edit leaves as it is."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
EDITABLE = tuple(model.CONTENT)  # headline, body, link, image, breaking, author


@dataclass(frozen=True)
class Changes:
    """What an edit sets. `UNSET` (the default) keeps a field; `link=None` or `image=None`
    removes the link or the photo (so does `link=""`, as an emptied form field). An image is
    replaced whole: a new caption needs the URL again.

    Every set field goes through the field's one parser in `relay.model.CONTENT` when the
    record is built, so an invalid `Changes` cannot exist and `apply` cannot store an update
    that would not decode.
    """

    headline: str | Unset = UNSET
    body: str | Unset = UNSET
    link: str | Unset | None = UNSET
    image: Image | Unset | None = UNSET
    breaking: bool | Unset = UNSET
    author: str | Unset = UNSET

    def __post_init__(self) -> None:
        for name, value in self.set_fields().items():
            # frozen: the parsed value replaces the given one once, here
            object.__setattr__(self, name, model.CONTENT[name](value))
        if isinstance(self.headline, str) and not self.headline.strip():
            raise InvalidUpdate("headline", model.EMPTY)  # an edit never deletes

    @classmethod
    def from_dict(cls, data: Any) -> Changes:
        """Parse the JSON shape of an edit (a PATCH body): only editable fields, each typed."""
        if not isinstance(data, dict):
            raise InvalidUpdate("changes", "must be a JSON object")
        for key in sorted(data):
            if key not in EDITABLE:
                fixed = N_("cannot be changed by an edit")
                raise InvalidUpdate(key, fixed if key in model.FIELDS else model.UNKNOWN_FIELD)
        return cls(**data)

    def set_fields(self) -> dict[str, Any]:
        """The fields this edit sets, by name (a removed link or photo as None)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }

    def __bool__(self) -> bool:
        return bool(self.set_fields())

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, read back by `from_dict`."""
        data = self.set_fields()
        if "image" in data:
            data["image"] = model.image_dict(data["image"])
        return data

    def apply(self, prev: Update) -> Update:
        """The next revision of `prev` with these changes, validated like every update."""
        return model.validate(
            replace(prev, **self.set_fields(), action=Action.EDIT, revision=prev.revision + 1)
        )
