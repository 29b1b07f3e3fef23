"""A local stand-in for the platforms' HTTP APIs: it answers like the platform and records every
request the bot makes, so tests can check what residents would have received."""
import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

# (method, path, query, body) → (status, json), or (status, bytes) for a file the platform serves
Handler = Callable[[str, str, dict, dict], tuple[int, dict | bytes]]


@dataclass
class Call:
    method: str
    path: str
    query: dict
    body: dict
    headers: dict


class FakePlatform:
    """Runs an aiohttp server in a thread; `routes[path]` decides the answer, `down` fails everything."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.routes: dict[str, Handler] = {}
        self.down = False
        self._lock = threading.Lock()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        call = Call(request.method, request.path, dict(request.query), body, dict(request.headers))
        if self.down:
            return web.json_response({"error": "service unavailable"}, status=503)
        with self._lock:
            self.calls.append(call)
        handler = self.routes.get(request.path)
        status, answer = handler(call.method, call.path, call.query, call.body) if handler else (200, {})
        if isinstance(answer, bytes):
            return web.Response(body=answer, status=status, content_type="application/octet-stream")
        return web.json_response(answer, status=status)

    def sent(self, path_part: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_part in c.path]

    def wait_for(self, predicate: Callable[[list[Call]], bool], seconds: float = 60) -> list[Call]:
        """Wait until the recorded calls satisfy `predicate`; returns them."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                calls = list(self.calls)
            if predicate(calls):
                return calls
            time.sleep(0.2)
        raise AssertionError(f"the fake platform never saw what was expected; calls: {self.calls}")
