"""A resident's Matrix client for the end-to-end test, run with the Synapse venv's Python
(matrix-nio cannot live in the project's venv): one action per run, a JSON request on stdin,
a JSON answer on stdout. Logs in with the password the first time and hands back the token."""
import asyncio
import json
import sys

from nio import AsyncClient, JoinError, LoginResponse, RoomCreateResponse, RoomMessagesResponse, RoomSendResponse


async def logged_in(request: dict) -> AsyncClient:
    client = AsyncClient(request["homeserver"], request["user_id"])
    if request.get("token"):
        client.access_token = request["token"]
    else:
        answer = await client.login(request["password"], device_name="resident")
        if not isinstance(answer, LoginResponse):
            raise RuntimeError(f"login: {answer}")
    return client


async def profile(client: AsyncClient, name: str) -> dict:
    await client.set_displayname(name)
    return {}


async def create_room(client: AsyncClient, name: str, invite: list[str]) -> dict:
    answer = await client.room_create(name=name, invite=invite)
    if not isinstance(answer, RoomCreateResponse):
        raise RuntimeError(f"room_create: {answer}")
    return {"room_id": answer.room_id}


async def join(client: AsyncClient, room_id: str) -> dict:
    answer = await client.join(room_id)
    if isinstance(answer, JoinError):
        raise RuntimeError(f"join: {answer}")
    return {}


async def send(client: AsyncClient, room_id: str, content: dict) -> dict:
    answer = await client.room_send(room_id, "m.room.message", content)
    if not isinstance(answer, RoomSendResponse):
        raise RuntimeError(f"room_send: {answer}")
    return {"event_id": answer.event_id}


async def members(client: AsyncClient, room_id: str) -> dict:
    answer = await client.joined_members(room_id)
    return {"members": [member.user_id for member in getattr(answer, "members", [])]}


async def timeline(client: AsyncClient, room_id: str) -> dict:
    """The room's messages as a member sees them, oldest first."""
    answer = await client.room_messages(room_id, limit=200)
    if not isinstance(answer, RoomMessagesResponse):
        raise RuntimeError(f"room_messages: {answer}")
    return {"messages": [{"event_id": event.event_id, "sender": event.sender, "type": event.source.get("type"),
                          "content": event.source.get("content", {})}
                         for event in reversed(answer.chunk) if event.source.get("type") == "m.room.message"]}


async def accept_invitations(client: AsyncClient) -> dict:
    """Join every room this account is invited to; returns them."""
    answer = await client.sync(timeout=0)
    rooms = list(getattr(answer, "rooms", None).invite) if getattr(answer, "rooms", None) else []
    for room_id in rooms:
        await join(client, room_id)
    return {"rooms": rooms}


ACTIONS = {"profile": profile, "create_room": create_room, "join": join, "send": send, "members": members,
           "timeline": timeline, "accept_invitations": accept_invitations}


async def main() -> None:
    request = json.load(sys.stdin)
    client = await logged_in(request)
    try:
        arguments = {k: v for k, v in request.items() if k not in ("homeserver", "user_id", "password", "token",
                                                                    "action")}
        answer = await ACTIONS[request["action"]](client, **arguments)
    finally:
        await client.close()
    print(json.dumps({**answer, "token": client.access_token}, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
