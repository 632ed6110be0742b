"""The OpenAPI 3.1 document of the `/v1/` API (`relay/openapi.json`), served at `PATH`.

The document is package data, written once by hand; tests/test_openapi.py checks it against
the router and the model's limits, and fuzzes a running relay with it (schemathesis). It is
served without a token: it says nothing that the source does not, and a CMS or a bridge reads
it to learn how to authenticate.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

PATH = "/v1/openapi.json"


@cache
def document() -> bytes:
    """The document's bytes, as shipped in the package."""
    return resources.files("relay").joinpath("openapi.json").read_bytes()


async def serve(request: web.Request) -> web.Response:
    return web.Response(body=document(), content_type="application/json", charset="utf-8")
