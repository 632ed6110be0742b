"""Bot API error answers with the exact descriptions the real server gives."""

from __future__ import annotations

import math
from typing import Any

# Descriptions read in the real server (tdlib/telegram-bot-api Client.cpp); see platforms.md §1.5.
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
BOT_TO_BOT = "Forbidden: the bot can't send messages to the bot"
GROUP_DELETED = "Forbidden: the group chat was deleted"
CHAT_NOT_FOUND = "Bad Request: chat not found"
TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


def kicked(kind: str) -> str:
    """403 for a bot removed from a group/supergroup/channel chat."""
    return f"Forbidden: bot was kicked from the {kind} chat"


def not_member(kind: str) -> str:
    """403 for a bot that is not (or no longer) in a group/supergroup/channel chat."""
    return f"Forbidden: bot is not a member of the {kind} chat"


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``, plus optional ``parameters``."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters or {}

    def body(self) -> dict[str, Any]:
        """The JSON body the real server sends for this error."""
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers: ``Retry-After`` on 429."""
        retry = self.parameters.get("retry_after")
        return {"Retry-After": str(retry)} if retry is not None else {}


def error_for(code: int, description: str) -> ApiError:
    """An error from a bare description, reading ``retry after N`` from 429 descriptions."""
    if code == 429 and "retry after " in description:
        n = int(description.rsplit("retry after ", 1)[1].split()[0])
        return ApiError(code, description, {"retry_after": n})
    return ApiError(code, description)


def bad_request(message: str) -> ApiError:
    """400 with the ``Bad Request: `` prefix."""
    return ApiError(400, f"Bad Request: {message}")


def forbidden(description: str) -> ApiError:
    """403 with a full description (use the module constants)."""
    return ApiError(403, description)


def too_many_requests(seconds: float) -> ApiError:
    """429 ``Too Many Requests: retry after N`` (whole seconds, at least 1)."""
    n = max(1, math.ceil(seconds))
    return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})


def upgraded(new_chat_id: int) -> ApiError:
    """400 for a basic group upgraded to a supergroup, naming the new chat."""
    return ApiError(400, UPGRADED, {"migrate_to_chat_id": new_chat_id})


def unauthorized() -> ApiError:
    """401 for a well-formed token no bot owns."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """404 for a malformed path or token, or an unknown method."""
    return ApiError(404, "Not Found")


def bad_gateway() -> ApiError:
    """502 as the front end answers when the server behind it fails."""
    return ApiError(502, "Bad Gateway")
