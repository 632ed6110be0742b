"""Editors' passwords for the desk, stored only as scrypt hashes (`relay desk-hash` makes one).

The format is `scrypt$N$r$p$SALT$HASH`: the scrypt cost parameters, then the salt and the
derived key in unpadded URL-safe base64 (16 and 32 bytes). The stdlib verifies it
(`hashlib.scrypt`), comparing in constant time. A config value not in this format (a plain
password, say) is refused at load.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import sys
from typing import TextIO

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # 16 MiB of memory per check: slow for a guesser, quick for a sign-in
SALT_BYTES, KEY_BYTES = 16, 32
MAX_MEMORY = 2**30  # a config cannot make one sign-in take more than 1 GiB (128·N·r bytes)
FORMAT = "scrypt$N$r$p$salt$hash"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8", "surrogatepass")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=130 * n * r + 2**20,
                          dklen=KEY_BYTES)  # fmt: skip


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """A new hash of `password` with a random salt, in `FORMAT`."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(_derive(password, salt, n, r, p))}"


def parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """The (N, r, p, salt, key) of a hash; `ValueError` if it is not one in `FORMAT`."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt hash")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        raise ValueError("not a scrypt hash") from None
    if not (n > 1 and n & (n - 1) == 0 and r >= 1 and 128 * n * r <= MAX_MEMORY and 1 <= p <= 16):
        raise ValueError("scrypt parameters out of range")
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("salt or hash too short")
    return n, r, p, salt, key


def well_formed(encoded: str) -> bool:
    try:
        parse(encoded)
    except ValueError:
        return False
    return True


def verify(password: str, encoded: str) -> bool:
    """Whether `password` matches the hash (constant-time comparison of the derived keys)."""
    n, r, p, salt, key = parse(encoded)
    return hmac.compare_digest(_derive(password, salt, n, r, p)[: len(key)], key)


@functools.cache
def dummy() -> str:
    """A hash checked when a name is unknown, so that the answer takes as long as for a known
    one (and tells no one which names exist)."""
    return hash_password(secrets.token_urlsafe(16))


def command(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """`relay desk-hash`: read a password (the first line of stdin), print its hash."""
    password = stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        print("error: a password of at least 8 characters, on stdin", file=sys.stderr)
        return 2
    print(hash_password(password), file=stdout)
    return 0
