"""The Redis lock store several Rasa servers share (connectors.lock_store), on the real Redis:
a ticket one server issued is never lost to another server's change of the same lock, so no
message waits out a ticket's lifetime for nothing."""
import threading
import uuid

import pytest
import redis
from rasa.core.lock_store import RedisLockStore
from sqlalchemy.engine import make_url

from bot.endpoints import LOCK_STORE, lock_store
from connectors.lock_store import AtomicRedisLockStore
from multi_stack import REDIS_URL

pytestmark = pytest.mark.servers

ROUNDS = 300


def _stores(kind: type, count: int) -> list:
    url = make_url(REDIS_URL)
    try:
        redis.StrictRedis(host=url.host, port=url.port or 6379, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return [kind(host=url.host, port=url.port or 6379, db=int(url.database or 1)) for _ in range(count)]


def lost_tickets(kind: type) -> int:
    """Two 'servers' (stores with their own connections) take turns of one conversation at once,
    as a load balancer sends a resident's messages; counts the tickets that vanished from the
    lock between being issued and being served."""
    conversation = f"lock-test-{uuid.uuid4().hex}"
    lost = [0, 0]

    def server(index: int, store) -> None:
        for _ in range(ROUNDS):
            ticket = store.issue_ticket(conversation)
            lock = store.get_lock(conversation)
            if lock is None or ticket not in [t.number for t in lock.tickets]:
                lost[index] += 1
            store.cleanup(conversation, ticket)

    threads = [threading.Thread(target=server, args=(i, store)) for i, store in enumerate(_stores(kind, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(lost)


def test_no_ticket_is_lost_when_two_servers_change_one_lock_at_once():
    assert lost_tickets(AtomicRedisLockStore) == 0


def test_the_conversation_lock_is_gone_once_every_turn_is_served():
    [store] = _stores(AtomicRedisLockStore, 1)
    conversation = f"lock-test-{uuid.uuid4().hex}"
    first, second = store.issue_ticket(conversation), store.issue_ticket(conversation)
    store.cleanup(conversation, first)
    assert [t.number for t in store.get_lock(conversation).tickets] == [second]
    store.cleanup(conversation, second)
    assert store.get_lock(conversation) is None


def test_the_endpoints_file_names_the_atomic_store():
    assert lock_store("redis://127.0.0.1:6379/1")["type"] == LOCK_STORE
    assert issubclass(AtomicRedisLockStore, RedisLockStore)
