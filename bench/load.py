"""`make bench`, under load: many residents in many groups against the real stack.

The Rasa server with the DingTalk connector (signed callbacks), the action server, the database
(SQLite, or PostgreSQL with Rasa's Redis lock store) and a fake DingTalk receiving the replies.
Messages are sent at a fixed rate (an open loop: a slow bot does not slow the residents down);
a callback answered 503 is sent again a second later, as DingTalk would. Printed: sustained
throughput, latency from the webhook POST to the reply at the fake platform (p50/p95/p99),
errors, lost messages (no reply, or not in the tracker store), tickets and reporters filed
against expected, peak memory of each process, the machine's load. `--profile` samples the Rasa
server with py-spy meanwhile and prints where its time goes.

`--platform wechat_mp` plays the same residents through the Official Account instead: each
writes one-to-one, signed and encrypted callbacks, the replies 客服消息, and a share of the
callbacks (`--resend`) sent again as WeChat does when it does not hear back (bench/load_wechat.py).
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_plan import CHITCHAT, Message, expected_tickets, group_ids, plan  # noqa: E402
from load_stack import ROOT, SESSION_PATH, running  # noqa: E402
from load_wechat import OfficialAccount  # noqa: E402

from bot.models import Ticket  # noqa: E402
from connectors.dingtalk import signature  # noqa: E402
from connectors.group_chat import APOLOGY  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from stack.dingtalk import APP_SECRET  # noqa: E402

WEBHOOK = "/webhooks/dingtalk/webhook"
RETRY_AFTER = 1.0  # seconds before a 503 or an unanswered callback is sent again
DEADLINE = 5.0  # seconds a platform waits for the webhook's answer (WeCom's; Feishu's is 3)
SETTLE = 120.0  # seconds to wait for the last replies


def callback(message: Message, platform_url: str, session: str) -> dict:
    """A DingTalk robot callback for `message`, its session webhook on the fake platform."""
    now = int(time.time() * 1000)
    return {"msgId": session, "msgtype": "text", "text": {"content": " " + message.text}, "createAt": now,
            "conversationType": "2", "conversationId": message.group, "senderStaffId": message.user,
            "senderId": f"$:LWCP_v1:${message.user}", "senderNick": f"业主{message.user[-3:]}",
            "robotCode": "bench", "sessionWebhook": f"{platform_url}{SESSION_PATH}?session={session}",
            "sessionWebhookExpiredTime": now + 90 * 60 * 1000}


class DingTalk:
    """The DingTalk robot's signed webhook, residents in groups. Each message names its own session
    webhook, so its replies are its own. The other platforms' `--platform` (bench/load_wechat.py)
    has the same parts: `prepare` the fake platform and the database, a `message_id` and a
    `callback` (its bytes, and a signer for each try) for each message, when it is sent again
    (`resends`), and the replies each message id got (`arrived`)."""
    name = "dingtalk"
    webhook = WEBHOOK
    description = "the DingTalk robot's signed webhook, in groups"
    quiet = 2.0  # seconds to wait for a duplicate after the last answer

    def prepare(self, _stack, replies, _platform, _groups: dict, _messages: list[Message]) -> None:
        self.replies = replies  # the groups are bound by load_stack.running

    def message_id(self, tag: str, message: Message) -> str:
        return f"{tag}{message.index:05d}"

    def callback(self, message: Message, message_id: str, platform_url: str):
        body = json.dumps(callback(message, platform_url, message_id), ensure_ascii=False).encode()

        def signed() -> tuple[str, dict]:
            timestamp = str(int(time.time() * 1000))
            return "", {"Content-Type": "application/json", "timestamp": timestamp,
                        "sign": signature(timestamp, APP_SECRET)}
        return body, signed

    def resends(self, _message: Message) -> tuple[float, ...]:
        return ()  # a DingTalk callback is sent again only when refused (503) or not answered

    def arrived(self) -> dict[str, list[tuple[float, str]]]:
        return self.replies.arrived


def platform_for(args: argparse.Namespace):
    """The channel the residents write through: a fresh one for each run."""
    return OfficialAccount(args.resend) if args.platform == "wechat_mp" else DingTalk()


class Traffic:
    """Sends the plan at a fixed rate and keeps what happened to each message."""

    def __init__(self, channel, rasa_urls: list[str], platform_url: str, tag: str) -> None:
        self.channel, self.rasa_urls, self.platform_url, self.tag = channel, rasa_urls, platform_url, tag
        self.sent_at: dict[str, float] = {}
        self.statuses: Counter = Counter()  # every answer, retries included
        self.resent = 0  # callbacks sent again as the platform does (not for a 503)

    def session(self, message: Message) -> str:
        return self.channel.message_id(self.tag, message)

    async def play(self, messages: list[Message], rate: float) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE),
                                         connector=aiohttp.TCPConnector(limit=200)) as http:
            start, tasks = time.perf_counter(), []
            for n, message in enumerate(messages):
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(self.send(http, message)))
            await asyncio.gather(*tasks)

    async def send(self, http: aiohttp.ClientSession, message: Message) -> None:
        """Post the callback to the servers in turn, as a round-robin load balancer would, and again
        (to the next servers) when the platform would send it again."""
        session = self.session(message)
        body, signed = self.channel.callback(message, session, self.platform_url)
        self.sent_at[session] = time.perf_counter()
        await asyncio.gather(self.post(http, body, signed, message.index), *(
            self.post(http, body, signed, message.index + n, after)
            for n, after in enumerate(self.channel.resends(message), 1)))

    async def post(self, http: aiohttp.ClientSession, body: bytes, signed, server: int, after: float = 0.0) -> None:
        """One callback to the `server`th server (`after` seconds on: the platform sending it again)."""
        if after:
            await asyncio.sleep(after)
            self.resent += 1
        url = self.rasa_urls[server % len(self.rasa_urls)] + self.channel.webhook
        while True:
            query, headers = signed()
            try:
                async with http.post(url + query, data=body, headers=headers) as answer:
                    status = answer.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                status = error.__class__.__name__
            self.statuses[status] += 1
            if status == 200 or isinstance(status, int) and 400 <= status < 500:
                return
            await asyncio.sleep(RETRY_AFTER)  # 503 or no answer in time: the platform sends it again


def answers(replies: list) -> list:
    """The replies that answer a message: "your message waits" (an apology) does not."""
    return [reply for reply in replies if APOLOGY not in reply[1]]


def wait_for_replies(channel, sessions: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(not answers(channel.arrived().get(s, [])) for s in sessions):
        time.sleep(0.5)
    time.sleep(channel.quiet)  # a duplicate would come now


def in_tracker_store(engine, sessions: list[str]) -> Counter:
    """How many times Rasa's tracker store holds each of the sessions' messages (a user event),
    and under "rewound" how many turns were undone (`RasaGroupChat.forget_turn`, to be tried again)."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT type_name, data FROM events WHERE type_name IN ('user', 'rewind')"))
        held = Counter(json.loads(data).get("message_id") if kind == "user" else "rewound" for kind, data in rows)
    return Counter({s: held[s] for s in [*sessions, "rewound"] if held[s]})


def filed_tickets(engine) -> dict[tuple, list[str]]:
    """(compound, category, building) → the reporters' user ids, for the bench's residents."""
    with Session(engine, future=True) as session:
        return {(t.compound.name, t.category, t.building): [r.user_id for r in t.reporters]
                for t in session.scalars(select(Ticket)) if any(r.user_id.startswith("u") for r in t.reporters)}


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def family(pid: int) -> list[int]:
    """The process and its children (an action server with several Sanic workers)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    children.append(int(entry))
            except OSError:
                continue
    return [pid, *children]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far."""
    return sum(int(fields[11]) + int(fields[12]) for fields in map(_stat, pids)) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pids: list[int]) -> float:
    """The peak resident memory of the processes, added up."""
    total = 0
    for member in pids:
        with open(f"/proc/{member}/status", encoding="ascii") as status:
            total += next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    return total / 1024


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]


def run(store: str, args: argparse.Namespace) -> dict:
    messages = plan(int(args.rate * args.duration), args.groups, args.residents)
    groups = group_ids(args.groups)
    channel = platform_for(args)
    with running(store, args.model, groups) as (stack, replies, platform):
        channel.prepare(stack, replies, platform, groups, messages)
        urls = [stack.rasa_url] + [stack.add_rasa_server() for _ in range(servers_for(store, args) - 1)]
        warm = [Message(i, next(iter(groups)), f"w{i:03d}", CHITCHAT[i % len(CHITCHAT)], "chitchat")
                for i in range(10 * len(urls))]
        warm_up = Traffic(channel, urls, platform.base_url, "warm")
        asyncio.run(warm_up.play(warm, 5))
        wait_for_replies(channel, [warm_up.session(m) for m in warm], SETTLE)
        traffic = Traffic(channel, urls, platform.base_url, "load")
        rasa = [process.pid for process in stack.processes if process is not stack.actions]
        profilers = [start_profiler(pid, args.duration) for pid in (rasa[0], stack.actions.pid)] if args.profile else []
        load_avg = os.getloadavg()
        processes = {**{f"rasa server {n + 1}": [pid] for n, pid in enumerate(rasa)},
                     "action server": family(stack.actions.pid), "load generator + fake platform": [os.getpid()]}
        cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        begin = time.perf_counter()
        asyncio.run(traffic.play(messages, args.rate))
        sessions = [traffic.session(m) for m in messages]
        wait_for_replies(channel, sessions, SETTLE)
        result = measure(traffic, channel.arrived(), sessions, begin)
        result["cpu_ms_per_message"] = {name: 1000 * (cpu_seconds(pid) - cpu_before[name]) / len(messages)
                                        for name, pid in processes.items()}
        held = in_tracker_store(stack.engine, sessions)
        result.update(load_before=load_avg, load_after=os.getloadavg(), messages=messages,
                      in_tracker=len(held) - ("rewound" in held),
                      in_tracker_twice=sum(1 for s in sessions if held[s] > 1), rewound=held["rewound"],
                      platform=channel.description, resent=traffic.resent,
                      tickets=filed_tickets(stack.engine),
                      servers=len(urls),
                      rss={**{name: peak_rss_mb(pids) for name, pids in processes.items() if os.getpid() not in pids},
                           "load generator + fake platform": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        for profiler, name in zip(profilers, ("Rasa server", "action server")):
            profiler.wait()
            result.setdefault("profiles", {})[name] = Path(profiler.args[profiler.args.index("-o") + 1])
    return result


def servers_for(store: str, args: argparse.Namespace) -> int:
    """SQLite: the one embedded server; PostgreSQL + Redis: as many as asked (default 2)."""
    return 1 if store == "sqlite" else args.servers


def start_profiler(pid: int, seconds: float) -> subprocess.Popen:
    out = ROOT / "bench" / "out" / f"profile-{pid}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "-p", str(pid), "-d",
                             str(int(seconds)), "-r", "50", "-f", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(traffic: Traffic, arrived: dict, sessions: list[str], begin: float) -> dict:
    answered = [s for s in sessions if answers(arrived.get(s, []))]
    latencies = [(answers(arrived[s])[0][0] - traffic.sent_at[s]) * 1000 for s in answered]
    last = max(answers(arrived[s])[0][0] for s in answered) if answered else begin
    return {"sent": len(sessions), "answered": len(answered), "statuses": dict(traffic.statuses),
            "throughput": len(answered) / (last - begin),
            "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99), "max": max(latencies),
            "duplicates": sum(1 for s in answered if len(answers(arrived[s])) > 1),
            "apologies": sum(1 for s in sessions if len(answers(arrived.get(s, []))) < len(arrived.get(s, [])))}


def report(store: str, rate: float, result: dict) -> None:
    expected = expected_tickets(result["messages"])
    filed = result["tickets"]
    reporters_expected = sum(len(users) for users in expected.values())
    reporters_filed = sum(len(users) for users in filed.values())
    wrong = [key for key, users in expected.items() if sorted(users) != sorted(filed.get(key, []))]
    stores = "SQLite" if store == "sqlite" else "PostgreSQL + Redis lock store"
    print(f"\n== load: {store} ({stores}, {result['servers']} Rasa server(s), one action server with "
          f"{os.environ['ACTION_SERVER_SANIC_WORKERS']} workers) through {result['platform']} ==")
    print(f"offered {rate:.0f} msg/s; {result['sent']} messages ({dict(Counter(m.kind for m in result['messages']))})")
    print(f"sustained throughput      {result['throughput']:.1f} msg/s")
    print(f"latency p50/p95/p99/max   {result['p50']:.0f} / {result['p95']:.0f} / {result['p99']:.0f}"
          f" / {result['max']:.0f} ms (webhook in → reply at the platform)")
    print(f"webhook answers           {result['statuses']} (503 or none within {DEADLINE:.0f} s: sent again)")
    if result["resent"]:
        print(f"callbacks sent again      {result['resent']} (as the platform does when it does not hear back)")
    print(f"lost (no reply)           {result['sent'] - result['answered']}")
    print(f"not in the tracker store  {result['sent'] - result['in_tracker']}")
    print(f"answered twice            {result['duplicates']}")
    print(f"in the tracker twice      {result['in_tracker_twice']} (turns undone to be tried again: {result['rewound']})")
    print(f"held, apologised for      {result['apologies']}")
    print(f"tickets filed / expected  {len(filed)} / {len(expected)}; reporters {reporters_filed} / "
          f"{reporters_expected}; wrong tickets: {len(wrong)}")
    for key in wrong[:5]:
        print(f"  {key}: expected {sorted(expected[key])}, filed {sorted(filed.get(key, []))}")
    print("peak memory               " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in result["rss"].items()))
    print("CPU per message           " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in result["cpu_ms_per_message"].items()))
    print(f"machine load (1/5/15 min) before {format_load(result['load_before'])}, "
          f"after {format_load(result['load_after'])}, {os.cpu_count()} cores")
    for name, path in result.get("profiles", {}).items():
        print_profile(name, path)


def format_load(load: tuple) -> str:
    return "/".join(f"{value:.2f}" for value in load)


def print_profile(name: str, path: Path, top: int = 15) -> None:
    """The functions a process spent most samples in (their own time, and with callees)."""
    own, inside, total = Counter(), Counter(), 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inside[frame] += samples
    print(f"\n{name} profile ({total} samples, {path}):\n  own time")
    for frame, samples in own.most_common(top):
        print(f"  {100 * samples / total:5.1f}%  {frame}")
    print("  with callees (our code and the stores)")
    ours = [(f, n) for f, n in inside.most_common() if any(k in f for k in (
        "connectors/", "bot/", "actions/", "tracker_store", "lock_store", "parse_message", "sqlalchemy/orm/session"))]
    for frame, samples in ours[:top]:
        print(f"  {100 * samples / total:5.1f}%  {frame}")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--model", type=Path, default=ROOT / "models" / "community-assistant.tar.gz")
    options.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    options.add_argument("--platform", choices=["dingtalk", "wechat_mp"], default="dingtalk",
                         help="the channel the residents write through (wechat_mp: the Official Account)")
    options.add_argument("--resend", type=float, default=0.2,
                         help="wechat_mp: the share of callbacks WeChat sends again (as when it does not hear back)")
    options.add_argument("--rate", type=float, default=30.0, help="messages per second offered")
    options.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    options.add_argument("--groups", type=int, default=20)
    options.add_argument("--residents", type=int, default=30, help="residents per group")
    options.add_argument("--servers", type=int, default=2, help="Rasa servers on PostgreSQL + Redis")
    options.add_argument("--action-workers", type=int, default=2, help="the action server's Sanic workers")
    options.add_argument("--profile", action="store_true", help="sample the (first) Rasa server and the action server")
    args = options.parse_args()
    os.environ["ACTION_SERVER_SANIC_WORKERS"] = str(args.action_workers)  # read by `rasa run actions`
    for store in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        report(store, args.rate, run(store, args))


if __name__ == "__main__":
    main()
