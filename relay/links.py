"""Link targets every platform accepts: one canonical form, so all of them link the same URL.

A link target (`canonical_url`) is an absolute http(s) URL with a dotted host name or an IP
address (Telegram links nothing else), no user info, at most 2,048 characters (as the `link`
field). It is written one way: lower-case scheme and host, a port without leading zeros, a path
of at least `/` (Telegram adds it), percent-encoded as CommonMark does, and `*` and unpaired or
nested parentheses encoded too, since Discord's Markdown cannot carry them in a link. The result
is an RFC 3986 URI (ASCII, the host in IDNA): what Discord's `format: uri` fields (an embed's
`url`, `image.url`) take.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from markdown_it.common.normalize_url import normalizeLink

MAX_URL = 2048

_AUTHORITY = re.compile(r"(https?)://([^/?#]*)(.*)", re.IGNORECASE | re.DOTALL)
_HOST_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z0-9-]*[a-z][a-z0-9-]*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


def _valid_host(host: str) -> bool:
    """A dotted host name, an IPv4 address, or an IPv6 address in brackets."""
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None
    return bracketed == (ip.version == 6)


def _flat_parens(text: str) -> bool:
    """Parentheses in pairs, none inside another: all Discord's link syntax can carry."""
    depth = 0
    for c in text:
        if c in "()":
            depth += 1 if c == "(" else -1
            if depth not in (0, 1):
                return False
    return depth == 0


@lru_cache(maxsize=4096)  # normalizing a host name (punycode) is slow; bodies repeat links
def canonical_url(raw: str) -> str | None:
    """The target a link written as `raw` points to, or None if it cannot be a link."""
    match = _AUTHORITY.fullmatch(normalizeLink(raw.strip()))
    if match is None:
        return None
    scheme, authority, rest = match.groups()
    host, port = authority.lower(), ""
    if not host.endswith("]") and ":" in host:  # a port (an IPv6 host ends with "]")
        host, _, port = host.rpartition(":")
        if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
            return None
    if "@" in authority or not _valid_host(host):
        return None
    if not rest.startswith("/"):
        rest = "/" + rest
    rest = rest.replace("*", "%2A")
    path, hash_, fragment = rest.partition("#")  # a "#" inside the fragment is no URI (RFC 3986)
    rest = path + hash_ + fragment.replace("#", "%23")
    if not _flat_parens(rest):
        rest = rest.replace("(", "%28").replace(")", "%29")
    url = f"{scheme.lower()}://{host}{f':{int(port)}' if port else ''}{rest}"
    return url if len(url) <= MAX_URL else None
