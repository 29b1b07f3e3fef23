"""What the console application holds for its views (`request.app[ENGINE]` …)."""
from aiohttp import web
from sqlalchemy.engine import Engine

ENGINE = web.AppKey("engine", Engine)      # the one database engine of the process
RASA_URL = web.AppKey("rasa_url", str)     # the Rasa server's HTTP API (tracker store, pausing)
