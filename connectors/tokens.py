"""Platform access tokens (WeCom, Feishu): fetched once, cached until shortly before they
expire, refreshed by whoever needs one next; concurrent callers share one fetch."""
import asyncio
import time
from collections.abc import Awaitable, Callable

EARLY = 300  # seconds before expiry that a token counts as expired

# async fetch() -> (token, lifetime in seconds)
Fetch = Callable[[], Awaitable[tuple[str, int]]]


class CachedToken:
    def __init__(self, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._clock = fetch, clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires:
                token, lifetime = await self._fetch()
                self._token, self._expires = token, self._clock() + max(0, lifetime - EARLY)
            return self._token

    def invalidate(self) -> None:
        """Forget the token (the platform said it is no longer valid)."""
        self._token = None
