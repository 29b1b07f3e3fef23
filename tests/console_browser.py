"""Browser tests of the staff console: the console started as `make run` starts it
(`python -m console`), driven in Debian's Chromium by Playwright, screenshots in tests/artifacts/."""
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import BIN, ROOT, project_env
from running_stack import free_port, wait_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
TIMEOUT_MS = 30_000


@contextmanager
def running_console(database_url: str, rasa_url: str, work: Path, rasa_token: str = "") -> Iterator[str]:
    """`python -m console` on `database_url`; yields its base URL, log in `work/console.log`."""
    port = free_port()
    env = {**project_env(), "DATABASE_URL": database_url, "RASA_TOKEN": rasa_token}  # as `make run` passes it
    with open(work / "console.log", "w") as log:
        process = subprocess.Popen([str(BIN / "python"), "-m", "console", "--port", str(port), "--rasa-url", rasa_url,
                                    "--secret-file", str(work / "console_secret.key")],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/login", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def chromium_page() -> Iterator:
    """A fresh page in Debian's Chromium (skips, saying why, when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make install` (as root) or apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")
    page.wait_for_selector("text=退出")
