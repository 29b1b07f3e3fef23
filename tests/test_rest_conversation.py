"""A first conversation over the REST channel: the real Rasa server and action server."""
import json
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN, ROOT, project_env


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
    logs = [open(work / name, "w") for name in ("actions.log", "rasa.log")]
    processes = [
        subprocess.Popen([str(BIN / "rasa"), "run", "actions", "--actions", "actions",
                          "--port", str(actions_port)], cwd=ROOT, env=project_env(),
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
        yield send
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def test_a_greeting_is_answered(rest_bot):
    replies = rest_bot("rest:dm:zhang", "你好呀")
    assert replies and "社区小助手" in replies[0]


def test_a_report_is_acknowledged_naming_its_category(rest_bot):
    replies = rest_bot("rest:dm:li", "3栋2单元楼道里的声控灯坏了一个礼拜了 晚上摸黑上楼")
    assert len(replies) == 1
    assert "供电照明" in replies[0] and "3号楼 2单元" in replies[0]


def test_an_urgent_report_answers_first_with_the_emergency_number(rest_bot):
    replies = rest_bot("rest:dm:wang", "5号楼电梯困人了 里面有个老太太 按铃没人理")
    assert "【紧急】" in replies[0] and "119" in replies[0]
    assert "电梯" in replies[1]


def test_asking_for_a_person_is_acknowledged(rest_bot):
    replies = rest_bot("rest:dm:zhao", "转人工")
    assert replies and "工作人员" in replies[0]


def test_gibberish_gets_a_fallback_not_a_category(rest_bot):
    replies = rest_bot("rest:dm:sun", "qwzx 嗯嗯啊啊 ……")
    assert replies
    assert not any("已登记" in reply for reply in replies)
