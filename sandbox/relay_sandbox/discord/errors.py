"""Discord's JSON error bodies: the codes and messages the emulator answers with."""

from __future__ import annotations

from typing import Any

UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
UNKNOWN_APPLICATION = 10002
UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060
ALREADY_CROSSPOSTED = 40033
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHERS = 50005
EMPTY_MESSAGE = 50006
MISSING_PERMISSIONS = 50013
WRONG_CHANNEL_TYPE = 50024
INVALID_FORM_BODY = 50035


class ApiError(Exception):
    """An error answer: HTTP status plus Discord's `{code, message, errors?}` body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def unknown_channel() -> ApiError:
    return ApiError(404, UNKNOWN_CHANNEL, "Unknown Channel")


def unknown_message() -> ApiError:
    return ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")


def unknown_webhook() -> ApiError:
    return ApiError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")


def unknown_interaction() -> ApiError:
    return ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")


def already_acknowledged() -> ApiError:
    return ApiError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")


def missing_access() -> ApiError:
    return ApiError(403, MISSING_ACCESS, "Missing Access")


def missing_permissions() -> ApiError:
    return ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")


def empty_message() -> ApiError:
    return ApiError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def form_errors(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def not_found() -> ApiError:
    return ApiError(404, 0, "404: Not Found")


def method_not_allowed() -> ApiError:
    return ApiError(405, 0, "405: Method Not Allowed")
