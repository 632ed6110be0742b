"""Lua scripts that cost one round trip, alone or inside a pipeline.

redis-py sends a registered script by its SHA1 (EVALSHA), loading it on the first NOSCRIPT
answer. Inside a pipeline it cannot do that after the fact, so before every pipeline that holds
a script it asks SCRIPT EXISTS, one more round trip each time (seen: 4.5 extra per delivery).
In a pipeline a `Script` sends its text instead (EVAL): the server keeps it compiled in its
script cache, and the pipeline stays one round trip, even after a restart emptied the cache.
A cluster's pipelines (split by node) send the text too. The sender's merged pipelines
(`relay.coalesce`) send the SHA1 after all, as they reload a script the server answers
NOSCRIPT for and send that command again, unseen by its caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

# Every script's text by its SHA1: what a round trip answered NOSCRIPT reloads
# (`relay.coalesce`, whose pipelines send scripts by SHA1).
TEXTS: dict[str, str] = {}


class Script:
    """A Lua script run by `await script(keys=…, args=…, client=…)`."""

    def __init__(self, client: aioredis.Redis, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()
        TEXTS[self.sha] = text
        self._script = client.register_script(text)

    async def __call__(
        self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Any = None
    ) -> Any:
        if isinstance(client, Pipeline | ClusterPipeline):  # queued: `execute()` answers
            if getattr(client, "reloads_scripts", False):
                return client.evalsha(self.sha, len(keys), *keys, *args)
            return client.eval(self.text, len(keys), *keys, *args)
        return await self._script(keys=keys, args=args, client=client)
