"""Rasa's Redis lock store, with every change of a conversation's lock made atomically.

Rasa 3.6 reads a conversation's lock, changes it in Python and writes it back (`issue_ticket`,
`update_lock`, `finish_serving`, `cleanup`). With several Rasa servers on one Redis, two of them
changing one conversation's lock at once lose one change: a ticket issued on one server is
deleted by the other's cleanup, and its message waits the ticket's whole lifetime (60 s) before
Rasa gives up with a LockError.
Here each change is one Redis transaction (WATCH the key, read, change, MULTI … EXEC), made
again when another server changed the lock in between.
"""
import json
from collections.abc import Callable
from typing import Any

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

_UNCHANGED = object()  # a change that leaves the stored lock as it is


class AtomicRedisLockStore(RedisLockStore):
    """Named in the endpoints file (`bot.endpoints.LOCK_STORE`); Rasa builds it with the
    endpoint's settings, the same as its own `type: redis`."""

    def __init__(self, endpoint_config=None, **settings: Any) -> None:
        if endpoint_config is not None:
            settings = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**settings)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[Any, Any]]) -> Any:
        """Apply `change` to the stored lock atomically. `change` gets the lock (None: there is
        none) and returns what to store (a lock; None: delete it; _UNCHANGED) and its result."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    new, result = change(lock)
                    pipe.multi()
                    if new is None:
                        pipe.delete(key)
                    elif new is not _UNCHANGED:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed the lock meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock):
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)
        try:
            return self._change(conversation_id, issue)
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def without_expired(lock):
            if lock is None:
                return _UNCHANGED, None
            lock.remove_expired_tickets()
            return lock, None
        self._change(conversation_id, without_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock with it when nobody else waits (one transaction)."""
        def without_ticket(lock):
            if lock is None:
                return _UNCHANGED, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None
        self._change(conversation_id, without_ticket)
