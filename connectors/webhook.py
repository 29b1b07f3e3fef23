"""The Rasa channel every webhook platform shares: a Sanic blueprint on the Rasa server, over the
group-chat core (`connectors/group_chat.py`) and its Rasa side (`connectors/rasa_chat.py`).

A platform module subclasses `WebhookChannel` and keeps only its wire format and crypto: `read`
verifies a POST and turns it into an `Incoming`. What every webhook has is here, once:

- a health check at `/webhooks/<channel>/` and the callback at `/webhooks/<channel>/webhook`;
- a body over `MAX_BODY` refused before anything is parsed or decrypted;
- one way to refuse a request: a parser or a signature check raises `connectors.inbound.Refusal`,
  answered here with its 4xx and one log line (the reason, never a secret or the body); a
  database outage (`Unavailable`) is answered 503, which the platforms retry;
- the core's loops started with the server, the channel's HTTP session closed when it stops;
- reading credentials.yml: `required` names what is missing, `keywords_in` reads the keywords.
"""
import logging

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.group_chat import KEYWORDS, Incoming, OnNewMessage, Unavailable
from connectors.inbound import Refusal
from connectors.rasa_chat import RasaGroupChat

log = logging.getLogger(__name__)

# Larger callbacks are refused with 413. What a resident may write is limited on the text itself
# (`connectors.inbound.MAX_TEXT`, 64 KB): escaped, encrypted and in base64 a body carrying the
# longest text allowed is up to about 3 times as long.
MAX_BODY = 256 * 1024


class WebhookChannel(InputChannel):
    """A platform's callback as a Rasa channel. A subclass gives `name`, `from_credentials`, a
    `chat` and `read`; a platform that checks the URL with a GET adds it to `methods` and answers
    it in `verify_url`, and one whose POST is not one message overrides `take`."""
    chat: RasaGroupChat
    methods: tuple[str, ...] = ("POST",)

    def read(self, request: Request) -> Incoming | None:
        """The message a POST carries, once verified (None: nothing to answer); `Refusal` for a
        request that is not the platform's or cannot be read."""
        raise NotImplementedError

    async def take(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse | None:
        """Take a size-checked POST in: by default the one message `read` finds, handed to the
        core. A response returned is the answer; None, `received`."""
        incoming = self.read(request)
        if incoming is not None:
            await self.chat.accept(incoming, on_new_message)
        return None

    def verify_url(self, request: Request) -> HTTPResponse:
        """The answer to a GET of the callback URL, where the platform checks it with one."""
        raise NotImplementedError

    def received(self) -> HTTPResponse:
        """The answer to a callback taken in: the replies go out through the outbox, not in it."""
        return response.json({})

    async def close(self) -> None:
        """Close the channel's HTTP session (when the server stops)."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"{self.name()}_webhook", __name__)
        self.chat.start_with(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=list(self.methods))
        async def receive(request: Request) -> HTTPResponse:
            try:
                if request.method == "GET":
                    return self.verify_url(request)
                if len(request.body or b"") > MAX_BODY:
                    raise Refusal(413, "body too large")
                return await self.take(request, on_new_message) or self.received()
            except Refusal as refusal:  # a forged or broken callback, a text over the limit …
                return self.refused(refusal.status, refusal.reason)
            except Unavailable as outage:
                return self.refused(503, f"try again later ({outage})")

        @webhook.listener("after_server_stop")
        async def _close(_app, _loop) -> None:
            await self.close()

        return webhook

    def refused(self, status: int, reason: str) -> HTTPResponse:
        """A refused callback: its status, and one log line."""
        log.warning("%s webhook refused with %s: %s", self.name(), status, reason)
        return response.json({"error": reason}, status=status)


def required(credentials: dict | None, channel: str, *names: str) -> dict:
    """A channel's credentials from credentials.yml, refused clearly when one of `names` is missing."""
    credentials = credentials or {}
    for name in names:
        if not credentials.get(name):
            raise ValueError(f"{channel}: credentials.yml needs {name}")
    return credentials


def keywords_in(credentials: dict) -> tuple[str, ...]:
    """`keywords: [小助手, 社区助手]`, or a single `keywords: 小助手`; the core's without."""
    keywords = credentials.get("keywords") or KEYWORDS
    return (keywords,) if isinstance(keywords, str) else tuple(keywords)
