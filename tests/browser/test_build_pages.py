"""The builds list, the buildset page and the build page in a real browser: filters and pages,
the job graph, a failing test's output, line anchors and the live console log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from browser.conftest import XSS_NAME, Dashboard, shoot
from browser.live_helpers import build_of, running_job

ROWS = '[data-testid="build-row"]'


def test_builds_filters_search_and_pages(dashboard: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{dashboard.url}/builds")
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("prev-page")).to_be_disabled()
    expect(page.get_by_test_id("next-page")).to_be_disabled()  # fewer than 50 builds
    shoot(page, screenshots, "builds")

    page.get_by_test_id("filter-job").fill("hostile")
    page.get_by_test_id("filter-job").press("Enter")
    expect(page.locator(f'{ROWS}:not([data-job="hostile"])')).to_have_count(0)
    expect(rows.first).to_be_visible()
    assert "job=hostile" in page.evaluate("location.search")

    page.get_by_test_id("filter-job").fill("")
    page.get_by_test_id("filter-job").press("Enter")
    page.get_by_test_id("filter-result").select_option("FAILURE")
    expect(page.locator(f'{ROWS}:not([data-job="hostile"])')).to_have_count(0)
    expect(rows.first.locator("td.col-result")).to_have_text("FAILURE")
    assert "result=FAILURE" in page.evaluate("location.search")

    page.get_by_test_id("filter-result").select_option("")
    page.get_by_test_id("search").fill("AFTER-u")
    page.get_by_test_id("search").press("Enter")
    expect(page.locator(f'{ROWS}:not([data-job="after-unit"])')).to_have_count(0)
    expect(rows.first).to_be_visible()

    page.get_by_test_id("search").fill("no-such-thing-anywhere")
    page.get_by_test_id("search").press("Enter")
    expect(rows).to_have_count(0)
    expect(page.get_by_text("No builds match these filters.")).to_be_visible()

    # Pages: two rows a page, so Next is enabled and leads to other builds.
    page.goto(f"{dashboard.url}/builds?limit=2")
    expect(rows).to_have_count(2)
    first_page = rows.evaluate_all("rows => rows.map(row => row.dataset.build)")
    expect(page.get_by_test_id("prev-page")).to_be_disabled()
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("prev-page")).to_be_enabled()
    expect(rows.first).not_to_have_attribute("data-build", first_page[0])
    assert "skip=2" in page.evaluate("location.search")
    second_page = rows.evaluate_all("rows => rows.map(row => row.dataset.build)")
    assert not set(first_page) & set(second_page)
    page.get_by_test_id("prev-page").click()
    expect(rows.first).to_have_attribute("data-build", first_page[0])
    assert page.errors == []


def test_failing_test_output_is_one_click_from_the_builds_list(
    dashboard: Dashboard, page: Any, screenshots: Path
) -> None:
    hostile = build_of(dashboard, "hostile", "FAILURE")
    page.goto(f"{dashboard.url}/builds?job=hostile")
    page.locator(f'{ROWS}[data-build="{hostile["uuid"]}"] td.col-build a').click()
    expect(page).to_have_url(re.compile(f"/build/{hostile['uuid']}$"))

    failed = page.get_by_test_id("failed-test")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(XSS_NAME)
    output = page.get_by_test_id("test-output")
    expect(output).to_be_visible()  # no click needed
    expect(output).to_contain_text("<script>window.__xss = 1;")
    href = failed.locator("a").get_attribute("href")
    parts = urlsplit(href)
    assert parts.path == "/test"
    assert parse_qs(parts.query) == {"name": [XSS_NAME], "classname": ["evil"], "job": ["hostile"]}
    expect(page.get_by_test_id("build-result")).to_have_text("FAILURE")
    expect(page.get_by_test_id("attempts")).to_contain_text("FAILURE")
    expect(page.get_by_test_id("log")).to_contain_text("build result: FAILURE")
    shoot(page, screenshots, "build")
    assert page.errors == []
    assert page.dialogs == []


def test_build_page_details_and_line_anchors(dashboard: Dashboard, page: Any) -> None:
    unit = build_of(dashboard, "unit", "SUCCESS")
    page.goto(f"{dashboard.url}/build/{unit['uuid']}#L3")
    line = page.locator("#L3")
    expect(line).to_have_class(re.compile(r"\bhighlight\b"))
    expect(line).to_be_in_viewport()

    artifacts = page.get_by_test_id("artifacts")
    expect(artifacts).to_contain_text("report.txt")
    view = artifacts.get_by_test_id("artifact-view")
    expect(view).to_have_attribute("href", f"/logs/{unit['uuid']}/artifacts/report.txt")
    expect(artifacts.get_by_test_id("artifact-download")).to_have_attribute("download", "report.txt")
    assert (
        page.request.get(f"{dashboard.url}/logs/{unit['uuid']}/artifacts/report.txt").text() == "a report\n"
    )
    expect(page.get_by_test_id("metrics")).to_contain_text("startup_ms")
    expect(page.get_by_test_id("tests")).to_contain_text("2 passed")
    expect(page.get_by_test_id("failed-test")).to_have_count(0)

    page.evaluate("window.__sameDocument = 'unit'")
    page.locator("#L5 a.ln").click()
    expect(page).to_have_url(re.compile(r"#L5$"))
    expect(page.locator("#L5")).to_have_class(re.compile(r"\bhighlight\b"))
    expect(line).not_to_have_class(re.compile(r"\bhighlight\b"))
    page.go_back()  # back to #L3, on the same document
    expect(line).to_have_class(re.compile(r"\bhighlight\b"))
    assert page.evaluate("window.__sameDocument") == "unit"

    page.goto(f"{dashboard.url}/build/0123456789abcdef")
    expect(page.locator("main")).to_contain_text("No build 0123456789abcdef")
    assert page.errors == []


def test_the_log_follows_a_running_build(dashboard: Dashboard, page: Any, screenshots: Path) -> None:
    page.set_viewport_size({"width": 1400, "height": 600})  # a short log box fills up quickly
    rev = dashboard.push("build page: follow the log")
    _, slow = running_job(dashboard, rev, "slow")
    lines = page.get_by_test_id("log-line")
    box = page.locator(".log-lines")
    follow = page.get_by_test_id("follow")
    try:
        page.goto(f"{dashboard.url}/build/{slow['build']}")
        page.evaluate("window.__sameDocument = 'slow'")
        expect(page.get_by_test_id("build-result")).to_have_text("running")
        expect(page.get_by_test_id("log")).to_contain_text("slow line 1")
        expect(follow).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#live")).to_be_visible()
        page.wait_for_function(
            "() => { const box = document.querySelector('.log-lines');"
            " return box.scrollHeight > box.clientHeight + 100; }"
        )
        at_bottom = "box => box.scrollHeight - box.scrollTop - box.clientHeight < 30"
        page.wait_for_function(f"() => ({at_bottom})(document.querySelector('.log-lines'))")
        page.set_viewport_size({"width": 1400, "height": 900})
        shoot(page, screenshots, "build-log")
        page.set_viewport_size({"width": 1400, "height": 600})

        box.evaluate("box => box.scrollTop = 0")  # the reader scrolls up: stop following
        expect(follow).to_have_attribute("aria-pressed", "false")
        count = lines.count()
        page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=log-line]').length > n + 3", arg=count
        )
        assert box.evaluate("box => box.scrollTop") == 0
        follow.click()
        expect(follow).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(f"() => ({at_bottom})(document.querySelector('.log-lines'))")
    finally:
        dashboard.release(slow["build"])

    expect(page.get_by_test_id("log")).to_contain_text("slow done", timeout=30_000)
    expect(page.get_by_test_id("build-result")).to_have_text("SUCCESS", timeout=15_000)
    expect(follow).to_be_hidden()
    numbers = lines.evaluate_all("lines => lines.map(line => line.id)")
    assert numbers == [f"L{n}" for n in range(1, len(numbers) + 1)]  # each line once, in order
    assert page.evaluate("window.__sameDocument") == "slow"
    assert page.errors == []


def test_buildsets_list_and_the_job_graph(dashboard: Dashboard, page: Any, screenshots: Path) -> None:
    after = build_of(dashboard, "after-unit", "SUCCESS")
    page.goto(f"{dashboard.url}/buildsets")
    sets = page.locator('[data-testid="buildset-row"]')
    expect(sets.first).to_be_visible()
    page.get_by_test_id("filter-result").select_option("SUCCESS")  # `hostile` fails every buildset
    expect(page.get_by_text("No buildsets match these filters.")).to_be_visible()
    page.get_by_test_id("filter-result").select_option("FAILURE")
    expect(sets.first).to_contain_text("FAILURE")
    expect(sets.first).to_contain_text("1 failed")
    page.goto(f"{dashboard.url}/buildsets?project=demo")
    sets.locator(f'a[href="/buildset/{after["buildset"]}"]').click()
    graph = page.get_by_test_id("job-graph")
    expect(graph).to_be_visible()
    expect(graph.get_by_test_id("graph-node")).to_have_count(4)
    edge = graph.locator('[data-testid="graph-edge"][data-from="unit"][data-to="after-unit"]')
    expect(edge).to_have_count(1)
    expect(graph.locator('[data-testid="graph-node"][data-job="hostile"]')).to_have_class(
        re.compile(r"result-FAILURE")
    )
    expect(page.locator(ROWS)).to_have_count(4)
    shoot(page, screenshots, "buildset")

    graph.locator('[data-testid="graph-node"][data-job="unit"]').click()
    expect(page).to_have_url(re.compile(r"/build/[0-9a-f]+$"))
    expect(page.locator("h1")).to_contain_text("unit")
    page.goto(f"{dashboard.url}/buildset/no-such-buildset")
    expect(page.locator("main")).to_contain_text("No buildset no-such-buildset")
    assert page.errors == []
