"""The files in deploy/ start what `make run` starts: the systemd units parse and name real
modules, files and options, and the nginx site forwards the platforms' webhooks to the Rasa
servers and the console to its port, as the Makefile sets them (docs/deployment.md)."""
import configparser
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, project_env

DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
NGINX = DEPLOY / "nginx-community-assistant.conf"
HOME = "/opt/community-assistant"


def makefile_value(name: str) -> str:
    return re.search(rf"^{name} *[?:]?= *(\S+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)[1]


PORTS = {name: int(makefile_value(name)) for name in ("RASA_PORT", "ACTIONS_PORT", "CONSOLE_PORT")}


def read_unit(path):
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read(path, encoding="utf-8")
    return unit


def exec_starts(path) -> list[list[str]]:
    """Every ExecStart= line (a oneshot unit may have several; configparser keeps only the last)."""
    lines = [line.split("=", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith("ExecStart=")]
    return [shlex.split(line) for line in lines]


def options(argv: list[str]) -> set[str]:
    return {word.split("=", 1)[0] for word in argv if word.startswith("--")}


def value_of(argv: list[str], option: str) -> str:
    for i, word in enumerate(argv):
        if word == option:
            return argv[i + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{option} missing from {argv}")


def help_of(*command: str) -> str:
    done = subprocess.run([sys.executable, "-m", *command, "--help"], cwd=ROOT, env=project_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_there_is_a_unit_for_every_process_make_run_starts():
    commands = {" ".join(argv[1:3]) for path in UNITS for argv in exec_starts(path)}
    assert {"-m bot", "-m console", "run actions", "run --enable-api"} <= commands


@pytest.mark.parametrize("path", UNITS, ids=[path.name for path in UNITS])
def test_a_unit_parses_and_runs_from_the_project_with_its_environment(path):
    unit = read_unit(path)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["WorkingDirectory"] == HOME
    assert service["EnvironmentFile"] == "/etc/community-assistant/env"
    assert unit["Install"]["WantedBy"] == "community-assistant.target"
    for argv in exec_starts(path):
        assert argv[0] in (f"{HOME}/.venv/bin/python", f"{HOME}/.venv/bin/rasa"), argv


@pytest.mark.parametrize("path", UNITS, ids=[path.name for path in UNITS])
def test_python_commands_name_real_modules_subcommands_and_options(path):
    for argv in exec_starts(path):
        if not argv[0].endswith("/python"):
            continue
        assert argv[1] == "-m" and (ROOT / argv[2] / "__main__.py").exists(), argv
        words = [word for word in argv[3:] if not word.startswith("-")]
        subcommand = words[:2] if argv[2] == "bot" and words[0] in ("db", "org", "faq", "users") else words[:1]
        text = help_of(argv[2], *subcommand)
        for option in options(argv):
            assert option in text, f"{option} is not an option of {' '.join(argv[1:3] + subcommand)}"


def rasa_commands_in_makefile() -> list[list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [shlex.split(match) for match in re.findall(r"\$\(RASA\) (run[^&>]*)", text)]


def test_the_rasa_servers_start_as_make_run_starts_them():
    made = {" ".join(argv[:2]): argv for argv in rasa_commands_in_makefile()}
    (server,) = exec_starts(DEPLOY / "community-rasa@.service")
    (actions,) = exec_starts(DEPLOY / "community-actions.service")
    assert options(server[1:]) == options(made["run --enable-api"])
    assert options(actions[1:]) == options(made["run actions"])
    assert value_of(server, "--model") == makefile_value("MODEL")
    assert value_of(server, "--interface") == "127.0.0.1"
    assert value_of(server, "--auth-token") == "${RASA_TOKEN}"
    assert value_of(server, "--port") == "%i"
    assert (ROOT / value_of(server, "--credentials")).is_file()
    assert (ROOT / value_of(actions, "--actions") / "__init__.py").is_file()
    assert int(value_of(actions, "--port")) == PORTS["ACTIONS_PORT"]
    assert "Environment=SANIC_HOST=127.0.0.1" in (DEPLOY / "community-actions.service").read_text(encoding="utf-8")


def test_the_servers_read_the_endpoints_file_the_setup_unit_writes():
    (_upgrade, endpoints) = exec_starts(DEPLOY / "community-setup.service")
    (server,) = exec_starts(DEPLOY / "community-rasa@.service")
    assert endpoints[2:4] == ["bot", "endpoints"]
    assert endpoints[4] == value_of(server, "--endpoints")
    assert value_of(endpoints, "--action-url") == f"http://127.0.0.1:{PORTS['ACTIONS_PORT']}/webhook"


def test_the_console_and_the_target_use_the_makefile_ports():
    (console,) = exec_starts(DEPLOY / "community-console.service")
    assert int(value_of(console, "--port")) == PORTS["CONSOLE_PORT"]
    target = read_unit(DEPLOY / "community-assistant.target")
    wanted = target["Unit"]["Wants"].split()
    assert f"community-rasa@{PORTS['RASA_PORT']}.service" in wanted
    assert set(wanted) - {"community-rasa@" + str(PORTS["RASA_PORT"]) + ".service"} \
        == {path.name for path in UNITS if "@" not in path.name}


# --- nginx ---------------------------------------------------------------------------------------

def nginx_text() -> str:
    return "\n".join(line.split("#", 1)[0] for line in NGINX.read_text(encoding="utf-8").splitlines())


def test_the_nginx_site_has_balanced_braces_and_finished_statements():
    text, depth, end = nginx_text(), 0, 0
    for match in re.finditer(r"([^{};]*)([{};])", text):
        words, mark = match[1].strip(), match[2]
        if mark == "{":
            assert words.split()[0] in ("server", "upstream", "location"), words
        elif mark == "}":
            assert not words, f"a statement without ';' before '}}': {words!r}"
        else:
            assert "\n" not in words, f"a statement without ';' (ours fit on one line): {words!r}"
        depth += {"{": 1, "}": -1}.get(mark, 0)
        assert depth >= 0, "a '}' closes nothing"
        end = match.end()
    assert depth == 0 and not text[end:].strip()


def blocks(kind: str) -> list[tuple[str, str]]:
    """(argument, body) of every `kind argument { body }` (bodies hold no nested braces here)."""
    return re.findall(rf"\b{kind}\s+([^{{;]*?)\s*{{([^{{}}]*)}}", nginx_text())


def test_webhooks_go_to_the_rasa_servers_and_the_console_to_its_port():
    upstreams = {name: [int(port) for port in re.findall(r"server\s+127\.0\.0\.1:(\d+)\s*;", body)]
                 for name, body in blocks("upstream")}
    assert upstreams["rasa_servers"][0] == PORTS["RASA_PORT"]
    assert upstreams["rasa_servers"] == list(range(PORTS["RASA_PORT"], PORTS["RASA_PORT"] + len(upstreams["rasa_servers"])))
    targets = {}
    for where, body in blocks("location"):
        for target in re.findall(r"proxy_pass\s+http://([^;/\s]+)", body):
            targets.setdefault(target, []).append(where)
    assert set(targets) == {"rasa_servers", f"127.0.0.1:{PORTS['CONSOLE_PORT']}"}
    assert all("webhooks" in where for where in targets["rasa_servers"])
    assert not re.search(rf":{PORTS['ACTIONS_PORT']}\b", nginx_text())  # only the Rasa servers call it


def test_every_platform_webhook_is_forwarded_and_the_rest_channel_is_not():
    (pattern,) = [where for where, body in blocks("location") if "rasa_servers" in body]
    regex = re.compile(pattern.removeprefix("~").strip())
    channels = set(re.findall(r"/webhooks/(\w+)/webhook", (ROOT / "credentials.yml").read_text(encoding="utf-8")))
    assert channels
    for channel in channels:
        assert regex.match(f"/webhooks/{channel}/webhook"), channel
    assert not regex.match("/webhooks/rest/webhook")
    assert not regex.match("/conversations/x/tracker/events")
    assert not regex.match("/status")
