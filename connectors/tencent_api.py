"""Tencent's HTTP APIs (WeCom's qyapi, the Official Account's api.weixin): JSON answers that carry
an `errcode`, and an access token in the query, fetched once, cached, and fetched again when
Tencent says it is no longer valid. The WeCom, Official Account and 微信客服 senders build on it.
"""
import asyncio
from typing import Any

import aiohttp

from connectors.tokens import CachedToken

TIMEOUT = aiohttp.ClientTimeout(total=10)


class TencentError(Exception):
    """A Tencent API refused a call or could not be reached. Never carries a URL: Tencent's hold tokens."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.errcode = errcode  # Tencent's, when it answered with one


class TencentApi:
    """One account's access to a Tencent API; a subclass says how its token is fetched."""
    error: type[TencentError] = TencentError
    token_expired = frozenset({40014, 42001})  # invalid / expired access_token

    def __init__(self) -> None:
        self._token = CachedToken(self._fetch_token)
        self._session: aiohttp.ClientSession | None = None

    async def _fetch_token(self) -> tuple[str, int]:
        raise NotImplementedError

    async def post_with_token(self, url: str, what: str, body: dict) -> dict:
        """POST `body` with the access token (fetched again once when it expired); raises on an errcode."""
        for last_try in (False, True):
            token = await self._token.get()
            answer = await self._call("POST", url, what, params={"access_token": token}, json=body)
            if answer.get("errcode") in self.token_expired and not last_try:
                self._token.invalidate()
                continue
            self._check(answer, what)
            return answer
        raise AssertionError("unreachable: the last try returns or raises")

    async def _call(self, method: str, url: str, what: str, **kwargs: Any) -> dict:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.request(method, url, **kwargs) as answer:
                if answer.status != 200:
                    raise self.error(f"{what}: HTTP {answer.status}")
                body = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise self.error(f"{what}: {error.__class__.__name__}") from None
        if not isinstance(body, dict):
            raise self.error(f"{what}: the answer is not a JSON object")
        return body

    def _check(self, answer: dict, what: str) -> None:
        errcode = answer.get("errcode", 0)
        if errcode != 0:
            raise self.error(f"{what}: errcode {errcode} {answer.get('errmsg', '')}".strip(), errcode)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
