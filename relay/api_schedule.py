"""The API's side of scheduled updates (`relay.schedule`): `publish_at` in `POST /v1/updates`,
and the same `/v1/updates/{id}` routes for an update still waiting (read, edit, cancel), and
`GET /v1/scheduled`, the list. `relay.api` hands a request here when it concerns one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from relay import model
from relay.changes import Changes
from relay.schedule import Schedule, Scheduled, parse_time

MAX_LISTED = 100


def answer(held: Scheduled, status: int = 200, **more: Any) -> web.Response:
    body = {"id": held.update.id, "scheduled": True, "publish_at": held.at.isoformat(), **more}
    return web.json_response(body, status=status)


async def post(schedule: Schedule, data: dict[str, Any]) -> web.Response:
    """POST /v1/updates with `publish_at`: 202, the update waits for its time."""
    at = parse_time(data.get("publish_at"))
    update = model.from_dict({k: v for k, v in data.items() if k != "publish_at"},
                             generate_id=True)  # fmt: skip
    return answer(await schedule.add(update, at), 202)


async def patch(schedule: Schedule, update_id: str, data: dict[str, Any]) -> web.Response | None:
    """PATCH of a waiting update (its content and/or `publish_at`); None if none waits."""
    if await schedule.get(update_id) is None:
        return None
    at = parse_time(data["publish_at"]) if "publish_at" in data else None
    rest = {k: v for k, v in data.items() if k != "publish_at"}
    return answer(await schedule.change(update_id, Changes.from_dict(rest) if rest else None, at))


async def delete(schedule: Schedule, update_id: str) -> web.Response | None:
    """DELETE of a waiting update: cancelled, nothing was ever sent; None if none waits."""
    held = await schedule.get(update_id)
    if held is None or not await schedule.cancel(update_id):
        return None
    return web.json_response({"id": update_id, "scheduled": False, "cancelled": True})


async def get(schedule: Schedule, update_id: str) -> web.Response | None:
    """GET of a waiting update: its content and time; None if none waits."""
    held = await schedule.get(update_id)
    if held is None:
        return None
    body = {"update": model.to_dict(held.update), "progress": None,
            "publish_at": held.at.isoformat()}  # fmt: skip
    return web.json_response(body)


async def listed(schedule: Schedule) -> web.Response:
    """GET /v1/scheduled: the updates waiting, soonest first."""
    return web.json_response([s.as_dict() for s in await schedule.pending(MAX_LISTED)])
