"""The `desk` section: the editors' web page served by `relay run` (`relay.desk`), off by default.

Each editor has a `name` (recorded as the `author` of what they publish) and a `password_hash`
made by `relay desk-hash` (`relay.passwords.FORMAT`); a plain password is refused at load.
Sessions last `session_minutes` from sign-in; `secure_cookie` marks the session cookie Secure
(set it when editors reach the desk over https, through a TLS proxy). A name gets at most
`max_failures` wrong passwords a minute. `check` holds the rules that span sections: the desk
is served by the HTTP API, so it needs `api.enabled`, and at least one editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

from relay import passwords
from relay.errors import ConfigError
from relay.settings import Rule

PasswordHash = Annotated[
    str,
    Rule(
        f"a hash made by `relay desk-hash` ({passwords.FORMAT}), never a plain password",
        test=passwords.well_formed,
    ),
]
EditorName = Annotated[
    str, Rule("a name of 1 to 100 characters", test=lambda s: 0 < len(s.strip()) <= 100)
]
PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
DeskPath = Annotated[
    str,
    Rule(
        'a path such as "/desk": "/"-separated letters, digits, . _ ~ -, not under /v1',
        test=lambda s: PATH.fullmatch(s) and not (s + "/").startswith("/v1/"),
    ),
]
Minutes = Annotated[float, Rule("a positive number of minutes", test=lambda x: x > 0)]
Failures = Annotated[int, Rule("a positive integer", test=lambda n: n >= 1)]


@dataclass(frozen=True)
class DeskEditor:
    """One editor who may sign in to the desk."""

    name: EditorName
    password_hash: PasswordHash = field(repr=False)


@dataclass(frozen=True)
class DeskConfig:
    """The editors' desk: sign in, compose with a live preview, publish, follow, edit, delete."""

    enabled: bool = False
    path: DeskPath = "/desk"
    session_minutes: Minutes = 480.0
    secure_cookie: bool = False  # true behind https: the cookie never travels in clear text
    max_failures: Failures = 5  # wrong passwords per name per minute before sign-in waits
    editors: Annotated[tuple[DeskEditor, ...], Rule("a list of {name, password_hash}")] = ()

    def editor(self, name: str) -> DeskEditor | None:
        return next((e for e in self.editors if e.name == name), None)


def check(file: str, desk: DeskConfig, api_enabled: bool) -> None:
    """An enabled desk has the API to serve it and editors to sign in, each named once."""
    if not desk.enabled:
        return
    if not api_enabled:
        raise ConfigError(file, "api.enabled", "true, since desk.enabled is true")
    if not desk.editors:
        raise ConfigError(file, "desk.editors", "at least one {name, password_hash}")
    names: set[str] = set()
    for i, editor in enumerate(desk.editors):
        if editor.name in names:
            raise ConfigError(file, f"desk.editors[{i}].name", "a name no other editor has")
        names.add(editor.name)
