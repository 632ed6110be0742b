"""The updates each editor published from a chat, newest first, for `/recent`.

One sorted set per editor (`Keys.editor_recent`, named `<platform>:<user id>`): update id →
when it was posted (ms), capped at `KEEP`, expiring a month after the editor's last post.
Updates published over the API or the desk have no chat user, so they are not listed.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from relay.keys import Keys, as_str

KEEP = 10
TTL_SECONDS = 30 * 86400


class RecentPosts:
    """Owner of the editors' lists of recent posts."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def remember(self, editor: str, update_id: str) -> None:
        key = self.keys.editor_recent(editor)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {update_id: int(time.time() * 1000)})
            pipe.zremrangebyrank(key, 0, -(KEEP + 1))
            pipe.expire(key, TTL_SECONDS)
            await pipe.execute()

    async def ids(self, editor: str) -> list[str]:
        """The editor's latest update ids, newest first."""
        members = await self.client.zrevrange(self.keys.editor_recent(editor), 0, KEEP - 1)
        return [as_str(m) for m in members]
