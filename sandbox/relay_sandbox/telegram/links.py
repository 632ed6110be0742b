"""Which ``<a href>`` targets Telegram accepts, and how it normalises them.

Re-implements LinkManager::get_link_user_id and LinkManager::check_link (td/telegram/
LinkManager.cpp) over td::parse_url (tdutils/td/utils/HttpUrl.cpp): http(s) URLs come back with
a lower-cased host, ``http://`` when no scheme was given and at least ``/`` as path; tg:, ton:
and tonsite: links keep their own scheme; anything else (ftp:, javascript:, a host without a
dot) is no link at all.
"""

from __future__ import annotations

import ipaddress
import logging

logger = logging.getLogger(__name__)

_MAX_USER_ID = (1 << 40) - 1


def _is_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def to_integer_safe(value: str, bits: int) -> int | None:
    """td::to_integer_safe: the decimal must print back identically and fit."""
    try:
        number = int(value)
    except ValueError:
        return None
    if str(number) != value or not -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
        return None
    return number


def link_user_id(url: str) -> int | None:
    """LinkManager::get_link_user_id: the N of tg:user?id=N (any case, // and / optional)."""
    rest = url.lower()
    if not rest.startswith("tg:"):
        return None
    rest = rest[3:].removeprefix("//")
    if not rest.startswith("user"):
        return None
    rest = rest[4:].removeprefix("/")
    if not rest.startswith("?"):
        return None
    for parameter in rest[1:].split("#")[0].split("&"):
        key, _, value = parameter.partition("=")
        if key == "id":
            user_id = to_integer_safe(value, 64)
            return user_id if user_id is not None and 0 < user_id <= _MAX_USER_ID else None
    return None


def _parse_url(link: str) -> tuple[str, str, str, str, str, bool] | None:
    """td::parse_url: (protocol, userinfo, host, port, query, is IPv6), or None if invalid."""
    head_end = min([i for i in (link.find(c) for c in ":/?#@[]") if i >= 0], default=len(link))
    protocol = "http"
    rest = link
    if link[head_end : head_end + 3] == "://":
        protocol = link[:head_end].lower()
        if protocol not in ("http", "https"):
            return None
        rest = link[head_end + 3 :]
    stop = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    authority, query = rest[:stop], rest[stop:]
    port = ""
    colon = len(authority) - 1
    while colon > 0 and authority[colon] not in ":]@":
        colon -= 1
    if colon > 0 and authority[colon] == ":":
        port = authority[colon + 1 :].lstrip("0") or authority[colon + 1 :][-1:]
        number = to_integer_safe(port, 32)
        if number is None or not 0 < number <= 65535:
            return None
        authority = authority[:colon]
    userinfo, _, host = authority.rpartition("@")
    if not host or host == ".":
        return None
    ipv6 = False
    host = "".join(c.lower() if c.isascii() else c for c in host)
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        ipv6 = True
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-_!$,~*'();&+=")
    i = 0
    while i < len(host) and not ipv6:
        c = host[i]
        if c == "%":
            if not all(h in "0123456789abcdef" for h in host[i + 1 : i + 3]) or i + 2 >= len(host):
                return None
            i += 3
            continue
        if c not in allowed and ord(c) < 128:
            return None
        i += 1
    query = query.rstrip(" \t\r\n\v\0") or "/"  # td::is_space, which has no \\f
    query = ("" if query.startswith("/") else "/") + "".join(
        f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in query
    )
    return protocol, userinfo, host, port, query, ipv6


def check_link(link: str) -> str | None:
    """LinkManager::get_checked_link: the normalised http(s)/tg/ton URL, or None if invalid."""
    scheme = next((p for p in ("tg:", "ton:", "tonsite:") if link[: len(p)].lower() == p), None)
    rest = link[len(scheme) :].removeprefix("//") if scheme else link
    parsed = _parse_url(rest)
    if parsed is None:
        return None
    protocol, userinfo, host, port, query, ipv6 = parsed
    if scheme:
        if rest[:7].lower() == "http://" or protocol == "https" or userinfo or port or ipv6:
            return None
        if any(
            not (_is_alnum(c) or c in "-_" or (scheme == "tonsite:" and c == ".")) for c in host
        ):
            return None
        if query[1:2] == "?":
            query = query[1:]
        return f"{scheme[:-1]}://{host}{query}"
    if "." not in host and not ipv6:
        return None
    userinfo_part = f"{userinfo}@" if userinfo else ""
    port_part = f":{int(port)}" if port else ""
    return f"{protocol}://{userinfo_part}{host}{port_part}{query}"
