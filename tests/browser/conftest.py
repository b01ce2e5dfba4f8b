"""Browser tests: Playwright driving Debian's chromium against a real `osci server` with real builds.

One server runs for the whole session (starting it and running the first builds is the slow part);
each test gets a fresh browser context. The in-repo configuration has:

- `unit`: passes, with JUnit results, an artifact and metrics;
- `hostile`: fails; its failing test is named ``<img src=x onerror=alert(1)>`` and its output holds
  ``<script>`` (the XSS check);
- `slow`: prints a line every 0.2 s until the test creates ``release/<build uuid>`` under the
  session folder, so tests can watch a running build (status page, live log);
- `after-unit`: depends on `unit` (so the buildset's graph has an edge).

Screenshots go to ``docs/screenshots/`` when ``OSCI_SCREENSHOTS=1`` (how the README's pictures
are made), otherwise into the session's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.conftest import Repo, ServerProcess, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
XSS_NAME = "<img src=x onerror=alert(1)>"

CONFIG = """
- connection:
    name: local
    driver: git
    baseurl: @ROOT@/repos
    poll-interval: 0.3
- pipeline:
    name: check
    manager: independent
    trigger:
      local:
        - event: ref-updated
          branch: ^main$
- project:
    name: demo
"""

IN_REPO = """
- job:
    name: unit
    test-results: [unit.xml]
    metrics: [metrics.json]
    run:
      - script: |
          echo "unit tests of $OSCI_PROJECT"
          cat > unit.xml <<'XML'
          <testsuite name="calc"><testcase classname="calc" name="test_add" time="0.1"/>
          <testcase classname="calc" name="test_sub" time="0.2"/></testsuite>
          XML
          echo '{"startup_ms": {"value": 412.5, "unit": "ms"}}' > metrics.json
          echo "a report" > "$OSCI_ARTIFACTS/report.txt"
- job:
    name: hostile
    test-results: [hostile.xml]
    run:
      - script: |
          echo "<script>alert('log')</script> in the console log"
          cat > hostile.xml <<'XML'
          <testsuite name="hostile">
            <testcase classname="evil" name="&lt;img src=x onerror=alert(1)&gt;" time="0.3">
              <failure message="&lt;b&gt;bold&lt;/b&gt;">&lt;script&gt;window.__xss = 1; alert('xss')&lt;/script&gt;</failure>
            </testcase>
            <testcase classname="evil" name="test_fine" time="0.1"/>
          </testsuite>
          XML
          exit 1
- job:
    name: slow
    run:
      - script: |
          i=0
          while [ ! -e "@ROOT@/release/$OSCI_BUILD" ] && [ $i -lt 1500 ]; do
            i=$((i + 1)); echo "slow line $i"; sleep 0.2
          done
          echo "slow done"
- job:
    name: after-unit
    dependencies: [unit]
    run: {script: "echo after unit"}
- project:
    check:
      jobs: [unit, hostile, slow, after-unit]
"""


@dataclass
class Dashboard:
    server: ServerProcess
    repo: Repo
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    def push(self, message: str) -> str:
        """A new commit on main: a new buildset in `check`."""
        self.repo.write("src/changes.txt", f"{message}\n")
        rev = self.repo.commit(message)
        self.repo.push()
        return rev

    def running_build(self, job: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            lambda: next(iter(self.server.builds(job=job, state="running")), None)
            or next((b for b in self.server.builds(job=job) if b["state"] == "running"), None),
            timeout,
            what=f"a running {job} build",
        )

    def release(self, build_uuid: str) -> None:
        """Let a `slow` build finish."""
        (self.root / "release").mkdir(exist_ok=True)
        (self.root / "release" / build_uuid).touch()

    def release_all(self) -> None:
        for build in self.server.builds(job="slow"):
            if not build["result"]:
                self.release(build["uuid"])


def chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (scripts/test.sh installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("dashboard")
    repo = Repo(root, "demo")
    repo.write(".osci.yaml", IN_REPO.replace("@ROOT@", str(root)))
    repo.commit("initial configuration")
    repo.push()
    config = root / "osci.yaml"
    config.write_text(CONFIG.lstrip("\n").replace("@ROOT@", str(root)))
    server = ServerProcess(root, config)
    server.extra_args = ["--slots", "6"]
    server.start()
    board = Dashboard(server, repo, root)
    try:
        wait_for(lambda: "watching demo" in server.log(), 30, what="the connection to see the repository")
        board.push("first change")
        first_slow = board.running_build("slow")
        board.release(first_slow["uuid"])
        server.wait_builds(4, timeout=120)
        yield board
    finally:
        board.release_all()
        if server.process and server.process.poll() is None:
            server.terminate(30)
        server.client.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    reason = chromium_missing()
    if reason and os.environ.get("OSCI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; the browser tests are required (OSCI_REQUIRE_BROWSER=1)")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; `page.dialogs` lists every alert/confirm/prompt opened (there must be none),
    `page.errors` every uncaught JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.errors = []

    def on_dialog(dialog: Any) -> None:
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/screenshots/ with OSCI_SCREENSHOTS=1, a temporary folder otherwise."""
    if os.environ.get("OSCI_SCREENSHOTS") == "1":
        target = REPO_ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path_factory.mktemp("screenshots")


def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


__all__ = ["XSS_NAME", "Dashboard", "shoot"]
