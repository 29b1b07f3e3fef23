"""What the console application holds for its views (`request.app[ENGINE]` …)."""
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.handoff import RasaConversations

ENGINE = web.AppKey("engine", Engine)      # the one database engine of the process
RASA = web.AppKey("rasa", RasaConversations)  # the Rasa server's HTTP API (staff replies, handing back)
