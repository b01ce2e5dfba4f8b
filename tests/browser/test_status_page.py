"""The status page in a real browser: live updates over the status stream, the filter box, and
collapsible pipelines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser.conftest import Dashboard, shoot
from browser.live_helpers import running_job


def test_status_updates_while_a_build_runs_without_a_reload(
    dashboard: Dashboard, page: Any, screenshots: Path
) -> None:
    page.goto(f"{dashboard.url}/status")
    expect(page.locator('[data-testid="pipeline"][data-pipeline="check"]')).to_be_visible()
    expect(page.locator("#live")).to_be_visible()  # the stream is connected
    empty = page.get_by_text("No items in any pipeline")  # every earlier test released its builds
    expect(empty).to_be_visible(timeout=30_000)
    expect(empty.get_by_role("link")).to_have_attribute("href", "/builds")
    page.evaluate("window.__sameDocument = 'status'")  # a reload would lose it

    rev = dashboard.push("status page: watch the slow job")
    item, slow = running_job(dashboard, rev, "slow")
    card = page.locator(f'[data-testid="item"][data-item="{item["id"]}"]')
    job = card.locator('[data-testid="job"][data-job="slow"]')
    try:
        expect(card).to_be_visible()
        expect(empty).to_be_hidden()
        expect(card).to_contain_text("Dev Eloper")
        expect(job.locator('[data-testid="progress"]')).to_be_visible()
        eta = job.locator('[data-testid="eta"]')
        expect(eta).to_have_text(re.compile(r"left|overdue|elapsed"))
        before = eta.inner_text()
        expect(eta).not_to_have_text(before)  # moved by the page's clock, between stream messages
        expect(card.locator('[data-testid="job"][data-job="unit"]')).to_contain_text("SUCCESS")
        link = job.locator("a")
        expect(link).to_have_attribute("href", f"/build/{slow['build']}")
        shoot(page, screenshots, "status")
    finally:
        dashboard.release(slow["build"])

    expect(job).to_contain_text("SUCCESS", timeout=30_000)
    expect(job.locator('[data-testid="progress"]')).to_have_count(0)
    assert page.evaluate("window.__sameDocument") == "status"
    assert page.errors == []
    assert page.dialogs == []


def test_status_filter_and_collapsed_pipelines(dashboard: Dashboard, page: Any) -> None:
    rev = dashboard.push("status page: filter")
    item, slow = running_job(dashboard, rev, "slow")
    try:
        page.goto(f"{dashboard.url}/status")
        card = page.locator(f'[data-testid="item"][data-item="{item["id"]}"]')
        count = page.get_by_test_id("item-count")
        box = page.get_by_test_id("status-filter")
        expect(card).to_be_visible()
        expect(count).to_have_text(re.compile(r"^(\d+) of \1 items?$"))

        box.fill("no-such-project-anywhere")
        expect(count).to_have_text(re.compile(r"^0 of [1-9]\d* items?$"))
        expect(card).to_be_hidden()
        assert "q=no-such-project-anywhere" in page.evaluate("location.search")

        for needle in ("SLOW", "demo", "dev eloper", rev[:8]):  # job, project, author, revision
            box.fill(needle)
            expect(card).to_be_visible()
            expect(count).to_have_text(re.compile(r"^[1-9]\d* of [1-9]\d* items?$"))

        box.fill("no-such-job")
        page.goto(page.evaluate("location.href"))  # the filter lives in the URL
        expect(box).to_have_value("no-such-job")
        expect(card).to_be_hidden()
        box.fill("")
        expect(card).to_be_visible()

        toggle = page.locator('[data-pipeline="check"] [data-testid="pipeline-toggle"]')
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(card).to_be_hidden()
        page.reload()  # the collapsed state is remembered
        expect(page.locator('[data-pipeline="check"] [data-testid="pipeline-toggle"]')).to_have_attribute(
            "aria-expanded", "false"
        )
        expect(card).to_be_hidden()
        page.locator('[data-pipeline="check"] [data-testid="pipeline-toggle"]').click()
        expect(card).to_be_visible()
    finally:
        dashboard.release(slow["build"])
    assert page.errors == []
    assert page.dialogs == []
