"""Conversations over the REST channel: the real Rasa server and action server, the sample site
in an SQLite database, tickets checked in that database."""
import json
import socket
import subprocess
import time
import urllib.request

import pytest

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.migrate import upgrade
from bot.models import Ticket
from bot.org import import_org_file
from conftest import BIN, ROOT, project_env

GROUP = "rest:wangjiang-demo"  # bound to 望江华庭 in org/sample_site.yml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def rest_bot(trained_model, tmp_path_factory):
    """POSTs a resident's message to the REST webhook and returns the bot's replies."""
    work = tmp_path_factory.mktemp("rest")
    actions_port, rasa_port = free_port(), free_port()
    endpoints = work / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
                         f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / "tracker.db"}\n',
                         encoding="utf-8")
    database = f"sqlite:///{work / 'bot.db'}"
    engine = make_engine(database)
    upgrade(engine)
    import_org_file(engine, ROOT / "org" / "sample_site.yml")
    logs = [open(work / name, "w") for name in ("actions.log", "rasa.log")]
    processes = [
        subprocess.Popen([str(BIN / "rasa"), "run", "actions", "--actions", "actions",
                          "--port", str(actions_port)], cwd=ROOT,
                         env={**project_env(), "DATABASE_URL": database},
                         stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen([str(BIN / "rasa"), "run", "--enable-api", "--model", str(trained_model),
                          "--port", str(rasa_port), "--endpoints", str(endpoints),
                          "--credentials", "credentials.yml"], cwd=ROOT, env=project_env(),
                         stdout=logs[1], stderr=subprocess.STDOUT),
    ]
    try:
        wait_for(f"http://127.0.0.1:{actions_port}/health", processes[0])
        wait_for(f"http://127.0.0.1:{rasa_port}/status", processes[1])

        def send(sender: str, text: str) -> list[str]:
            body = json.dumps({"sender": sender, "message": text}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                                             data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return [m.get("text", "") for m in json.load(response)]
        send.engine = engine
        yield send
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()
        engine.dispose()


def tickets_in(engine):
    with Session(engine, future=True) as s:
        return [(t.id, t.category, t.compound.name, sorted(r.user_id for r in t.reporters))
                for t in s.scalars(select(Ticket).order_by(Ticket.id))]


def test_a_greeting_is_answered(rest_bot):
    replies = rest_bot(f"{GROUP}:zhang", "你好呀")
    assert replies and "社区小助手" in replies[0]


def test_a_report_in_a_bound_group_is_filed_and_answered_with_who_and_when(rest_bot):
    replies = rest_bot(f"{GROUP}:li", "3栋2单元楼道里的声控灯坏了一个礼拜了 晚上摸黑上楼")
    assert len(replies) == 1
    assert "供电照明" in replies[0] and "望江华庭3号楼2单元" in replies[0] and "前办结" in replies[0]
    assert "****" in replies[0]  # the secretary's phone, masked
    second = rest_bot(f"{GROUP}:zhou", "3号楼的楼道灯不亮 好几天了")
    assert "2户" in second[0]
    [(_, category, compound, reporters)] = [t for t in tickets_in(rest_bot.engine) if t[1] == "power"]
    assert (category, compound, reporters) == ("power", "望江华庭", ["li", "zhou"])
    status = rest_bot(f"{GROUP}:li", "我上次报的事处理得怎么样了")
    assert "供电照明" in status[0] and "已派单" in status[0]


def test_an_urgent_report_answers_first_with_the_emergency_number(rest_bot):
    replies = rest_bot(f"{GROUP}:wang", "5号楼电梯困人了 里面有个老太太 按铃没人理")
    assert "【紧急】" in replies[0] and "119" in replies[0]
    assert "电梯" in replies[1] and "街道" in replies[1]


def test_without_a_compound_the_bot_asks_re_asks_and_files(rest_bot):
    asked = rest_bot("rest:dm:qian", "家里暖气片一点都不热 屋里才十五度")
    assert "哪个小区" in asked[-1]
    again = rest_bot("rest:dm:qian", "火星基地")
    assert "没有找到" in again[0]
    filed = rest_bot("rest:dm:qian", "金御城")
    assert "供暖" in filed[0] and "金御城" in filed[0]
    assert ("heating", "金御城", ["qian"]) in [t[1:] for t in tickets_in(rest_bot.engine)]


def test_the_resident_can_cancel_while_asked_for_the_compound(rest_bot):
    rest_bot("rest:dm:sun", "楼上天天半夜剁肉 吵得睡不着")
    replies = rest_bot("rest:dm:sun", "哎 还是不报了吧")
    assert "不登记" in replies[0]
    assert not [t for t in tickets_in(rest_bot.engine) if "sun" in t[3]]


def test_asking_for_a_person_is_acknowledged(rest_bot):
    replies = rest_bot("rest:dm:zhao", "转人工")
    assert replies and "工作人员" in replies[0]


def test_gibberish_gets_a_fallback_not_a_category(rest_bot):
    replies = rest_bot("rest:dm:sun", "qwzx 嗯嗯啊啊 ……")
    assert replies
    assert not any("已登记" in reply for reply in replies)
