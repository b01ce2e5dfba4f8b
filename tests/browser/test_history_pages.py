"""The history pages in a real browser against a real server: jobs, job, projects, project, tests,
test history, trends, events and configuration, and the way people move between them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from browser.conftest import XSS_NAME, Dashboard, shoot
from server.conftest import ServerProcess, wait_for

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

RUNS = 3  # the trends' per-job chart lists jobs with at least three runs


CENTRAL = """
- connection:
    name: local
    driver: git
    baseurl: @ROOT@/repos
    poll-interval: 5
- pipeline:
    name: check
    manager: independent
    trigger:
      local:
        - event: ref-updated
- pipeline:
    name: gate
    manager: dependent
    trigger:
      local:
        - event: ref-updated
          branch: ^never$
- job:
    name: lint
    description: Style checks on the sources.
    run: scripts/lint.sh
    timeout: 600
    files: ['^src/']
    vars: {level: strict}
- job:
    name: lint
    branches: [^stable/.*]
    timeout: 900
- project:
    name: team/app
    default-branch: main
    check:
      jobs:
        - lint
    gate:
      jobs:
        - lint: {irrelevant-files: ['^docs/']}
"""


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second, build-less server whose job and project are in the central configuration (the
    session server's jobs are all in-repo)."""
    root = tmp_path_factory.mktemp("central")
    (root / "repos").mkdir()
    config = root / "osci.yaml"
    config.write_text(CENTRAL.lstrip("\n").replace("@ROOT@", str(root)))
    server = ServerProcess(root, config)
    server.start()
    try:
        yield server
    finally:
        server.terminate(30)
        server.client.close()


@pytest.fixture(scope="module")
def history(dashboard: Dashboard) -> Dashboard:
    """At least three finished builds of every job: one push per missing run, each push's `slow`
    build released (only those: other tests may be watching theirs)."""
    server = dashboard.server
    mine: set[str] = set()
    for number in range(len(server.builds(job="hostile")), RUNS):
        before = slow_builds(server)
        dashboard.push(f"history change {number}")
        new = wait_for(lambda known=before: slow_builds(server) - known, 60, what="the push's slow build")
        mine |= new
        for uuid in new:
            dashboard.release(uuid)
    wait_for(
        lambda: (
            len(server.finished_builds(job="hostile")) >= RUNS
            and all(b["result"] for b in server.builds(job="slow") if b["uuid"] in mine)
        ),
        120,
        what=f"{RUNS} finished hostile builds",
    )
    return dashboard


def slow_builds(server: Any) -> set[str]:
    return {b["uuid"] for b in server.builds(job="slow")}


def clean(page: Any) -> None:
    """No uncaught JavaScript error and no dialog (an injected alert would be one)."""
    assert page.errors == []
    assert page.dialogs == []


def chart_labels(page: Any, testid: str) -> list[str] | None:
    """The labels of the Chart.js chart inside the element with that test id; None if no chart."""
    return page.evaluate(
        """(testid) => {
            const canvas = document.querySelector(`[data-testid="${testid}"] canvas`);
            const chart = canvas && window.Chart.getChart(canvas);
            return chart ? chart.data.labels : null;
        }""",
        testid,
    )


def test_jobs_page_lists_jobs_and_filters(history: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{history.url}/jobs")
    rows = page.get_by_test_id("job-row")
    expect(rows.filter(has_text="hostile")).to_have_count(1)
    expect(rows.filter(has_text="after-unit")).to_have_count(1)
    shoot(page, screenshots, "jobs")
    page.get_by_test_id("jobs-filter").fill("HOST")
    expect(rows.filter(visible=True)).to_have_count(1)
    expect(rows.filter(visible=True)).to_contain_text("hostile")
    assert "q=HOST" in page.url
    page.get_by_test_id("days-7").click()
    expect(page.get_by_test_id("days-7")).to_have_attribute("aria-current", "true")
    assert "days=7" in page.url and "q=HOST" in page.url
    expect(rows.filter(visible=True)).to_have_count(1)
    page.get_by_role("link", name="hostile", exact=True).click()
    expect(page.get_by_test_id("job-totals")).to_be_visible()
    assert "/job/hostile" in page.url
    clean(page)


def test_job_page_shows_totals_charts_and_builds(history: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{history.url}/job/unit")
    totals = page.get_by_test_id("job-totals")
    expect(totals).to_contain_text("pass rate")
    expect(totals).to_contain_text("100%")
    expect(totals).to_contain_text("infra rate")
    for testid in ("chart-pass-rate", "chart-duration"):
        expect(page.get_by_test_id(testid).locator("canvas")).to_be_visible()
        labels = chart_labels(page, testid)
        assert labels is not None and len(labels) == 30  # one per day of the default window
    expect(page.get_by_test_id("recent-builds").get_by_test_id("build-row")).to_have_count(
        len(history.server.builds(job="unit"))
    )
    expect(page.get_by_test_id("job-definition")).to_be_attached()
    expect(page.get_by_test_id("job-why")).to_be_attached()
    shoot(page, screenshots, "job")
    clean(page)


def test_job_page_shows_in_repo_definition(history: Dashboard, page: Any) -> None:
    """Jobs and project pipelines written in the project's own .osci.yaml (the usual case)."""
    page.goto(f"{history.url}/job/unit")
    expect(page.get_by_test_id("job-definition")).to_contain_text("unit.xml", timeout=3000)
    expect(page.get_by_test_id("job-definition")).to_contain_text("demo:.osci.yaml:")
    expect(page.get_by_test_id("job-why")).to_contain_text("runs in check for project demo")
    page.goto(f"{history.url}/project/demo")
    expect(page.get_by_test_id("project-pipelines")).to_contain_text("after-unit")


def test_job_page_definition_variants_and_why(central: ServerProcess, page: Any) -> None:
    """A centrally defined job with a branch variant, run by a project named with a slash in a
    check and a gate pipeline: the definition, its variants, where it runs and why."""
    page.goto(f"{central.url}/job/lint")
    definition = page.get_by_test_id("job-definition")
    expect(definition).to_contain_text("Style checks on the sources.")
    expect(definition).to_contain_text("scripts/lint.sh")
    expect(definition).to_contain_text("osci.yaml:")  # where it was defined
    json_view = page.get_by_test_id("job-definition-json")
    expect(json_view).to_be_hidden()
    definition.get_by_role("button", name="Show JSON").click()
    expect(json_view).to_be_visible()
    expect(json_view).to_contain_text('"level": "strict"')
    why = page.get_by_test_id("job-why")
    expect(why.get_by_test_id("runs-in").locator("tbody tr")).to_have_count(2)
    expect(why).to_contain_text("runs in gate for project team/app")
    expect(why.get_by_test_id("job-variants")).to_contain_text("^stable/.*")
    expect(page.get_by_test_id("job-totals")).to_contain_text("–")  # no runs: no rates
    why.get_by_role("link", name="team/app").first.click()
    expect(page).to_have_url(f"{central.url}/project/team/app")
    pipelines = page.get_by_test_id("project-pipelines")
    expect(pipelines).to_contain_text("gate")
    expect(page.get_by_test_id("project-config")).to_contain_text("main")
    pipelines.get_by_role("link", name="lint").first.click()
    expect(page.get_by_test_id("job-definition")).to_contain_text("scripts/lint.sh")
    clean(page)


def test_job_page_unknown_job_says_so(history: Dashboard, page: Any) -> None:
    page.goto(f"{history.url}/job/no-such-job")
    expect(page.locator(".message.error")).to_contain_text("not found")
    clean(page)


def test_projects_and_project_page(history: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{history.url}/projects")
    expect(page.get_by_test_id("project-row").filter(has_text="demo")).to_have_count(1)
    page.get_by_role("link", name="demo", exact=True).click()
    expect(page.get_by_test_id("project-totals")).to_contain_text("failure rate")
    expect(page.get_by_test_id("chart-pass-rate").locator("canvas")).to_be_visible()
    assert chart_labels(page, "chart-duration") is not None
    jobs = page.get_by_test_id("project-jobs")
    for job in ("unit", "hostile", "slow", "after-unit"):
        expect(jobs.get_by_role("link", name=job, exact=True)).to_be_visible()
    expect(page.get_by_test_id("project-buildsets").get_by_test_id("buildset-row").first).to_be_visible()
    expect(page.get_by_test_id("recent-builds").get_by_test_id("build-row").first).to_be_visible()
    expect(page.get_by_test_id("project-config")).to_be_visible()
    shoot(page, screenshots, "project")
    jobs.get_by_role("link", name="after-unit", exact=True).click()
    expect(page.get_by_test_id("job-totals")).to_be_visible()
    clean(page)


def test_tests_page_fragile_and_search(history: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{history.url}/tests")
    fragile = page.get_by_test_id("fragile-tests")
    hostile = fragile.get_by_test_id("test-row").filter(has_text=XSS_NAME)
    expect(hostile).to_have_count(1)
    expect(hostile).to_contain_text("100%")
    expect(page.locator("img")).to_have_count(0)
    results = page.get_by_test_id("test-search-results")
    page.get_by_test_id("test-search").fill("test_")
    expect(results.get_by_test_id("test-row").filter(has_text="test_add")).to_have_count(1)
    expect(results.get_by_test_id("test-row").filter(has_text=XSS_NAME)).to_have_count(0)
    assert "q=test_" in page.url
    shoot(page, screenshots, "tests")
    page.get_by_test_id("test-search").fill("no such test at all")
    expect(results).to_contain_text("No test name contains")
    hostile.get_by_role("link").first.click()
    expect(page.get_by_test_id("test-name")).to_have_text(XSS_NAME)
    clean(page)
    assert page.evaluate("window.__xss") is None


def test_history_of_the_hostile_test_is_text(history: Dashboard, page: Any, screenshots: Path) -> None:
    query = urlencode({"name": XSS_NAME, "classname": "evil", "job": "hostile"})
    page.goto(f"{history.url}/test?{query}")
    expect(page.get_by_test_id("test-name")).to_have_text(XSS_NAME)
    rows = page.get_by_test_id("test-history").get_by_test_id("history-row")
    expect(rows).to_have_count(len(history.server.finished_builds(job="hostile")))
    expect(rows.first).to_contain_text("failed")
    expect(rows.first).to_contain_text("<b>bold</b>")  # the failure message, as text
    expect(page.get_by_test_id("flip-rate")).to_contain_text("0%")
    timeline = page.get_by_test_id("test-timeline")
    expect(timeline.locator("a.tick-failed")).to_have_count(rows.count())
    assert (
        page.evaluate(
            """() => window.Chart.getChart(document.querySelector('[data-testid="test-timeline"] canvas'))
                 .data.datasets[0].data.length"""
        )
        == rows.count()
    )
    expect(page.locator("img")).to_have_count(0)
    shoot(page, screenshots, "test-history")
    timeline.locator("a.tick").last.click()
    expect(page).to_have_url(
        f"{history.url}/build/{history.server.finished_builds(job='hostile')[0]['uuid']}"
    )
    clean(page)
    assert page.evaluate("window.__xss") is None


def test_test_history_unknown_test_says_so(history: Dashboard, page: Any) -> None:
    page.goto(f"{history.url}/test?{urlencode({'name': 'nobody ran this'})}")
    expect(page.get_by_test_id("test-name")).to_have_text("nobody ran this")
    expect(page.locator(".message.error")).to_contain_text("not found")
    clean(page)


def test_trends_page(history: Dashboard, page: Any, screenshots: Path) -> None:
    page.goto(f"{history.url}/trends")
    totals = page.get_by_test_id("trends-totals")
    expect(totals.get_by_test_id("failure-rate")).to_be_visible()
    expect(totals.get_by_test_id("infra-rate")).to_contain_text("0%")
    expect(page.get_by_test_id("days-7")).to_have_attribute("aria-current", "true")
    assert len(chart_labels(page, "chart-daily") or []) == 7
    assert chart_labels(page, "chart-pipelines") == ["check"]
    failing = chart_labels(page, "chart-jobs") or []
    assert failing[0] == "hostile"
    expect(page.get_by_test_id("fragile-projects")).to_contain_text("demo")
    expect(page.get_by_test_id("trend-tests").get_by_role("link", name=XSS_NAME)).to_be_visible()
    expect(page.get_by_test_id("authors")).to_be_visible()
    shoot(page, screenshots, "trends")
    page.get_by_test_id("days-30").click()
    expect(page.get_by_test_id("days-30")).to_have_attribute("aria-current", "true")
    wait_for(lambda: len(chart_labels(page, "chart-daily") or []) == 30, 10, what="the 30-day chart")
    page.get_by_test_id("trend-tests").get_by_role("link", name=XSS_NAME).click()
    expect(page.get_by_test_id("test-name")).to_have_text(XSS_NAME)
    clean(page)


def test_events_page_shows_what_each_event_triggered(
    history: Dashboard, page: Any, screenshots: Path
) -> None:
    page.goto(f"{history.url}/events")
    rows = page.get_by_test_id("events-table").get_by_test_id("event-row").filter(has_text="ref-updated")
    expect(rows.first).to_be_visible()
    triggered = rows.filter(has=page.get_by_test_id("event-item"))
    assert triggered.count() >= RUNS
    expect(triggered.first.get_by_role("link", name="check")).to_have_attribute(
        "href", re.compile(r"^/buildset/.+")
    )
    shoot(page, screenshots, "events")
    page.get_by_test_id("events-type").fill("timer")
    page.get_by_test_id("events-type").press("Enter")
    expect(page.get_by_text("No event matches these filters.")).to_be_visible()
    assert "type=timer" in page.url
    page.get_by_test_id("events-type").fill("ref-updated")
    page.get_by_test_id("events-project").fill("demo")
    page.get_by_test_id("events-project").press("Enter")
    expect(triggered.first).to_be_visible()
    triggered.first.get_by_role("link", name="check").click()
    expect(page).to_have_url(re.compile(r".*/buildset/.+"))
    clean(page)


def test_config_page(history: Dashboard, page: Any) -> None:
    page.goto(f"{history.url}/config")
    expect(page.get_by_test_id("config-errors")).to_contain_text("without errors")
    expect(page.get_by_test_id("config-loads")).to_contain_text("ok")
    expect(page.get_by_test_id("config-pipelines")).to_contain_text("independent")
    expect(page.get_by_test_id("config-projects").get_by_role("link", name="demo")).to_be_visible()
    page.get_by_test_id("config-projects").get_by_role("link", name="demo").click()
    expect(page.get_by_test_id("project-totals")).to_be_visible()
    clean(page)


def test_config_page_shows_errors_of_a_refused_reload(
    central: ServerProcess, page: Any, screenshots: Path
) -> None:
    config = central.config.read_text()
    central.config.write_text(config + "- job:\n    name: broken\n    timeout: soon\n")
    try:
        answer = central.client.post("/api/reload", headers=central.auth()).json()
        assert answer["ok"] is False
    finally:
        central.config.write_text(config)
    page.goto(f"{central.url}/config")
    errors = page.get_by_test_id("config-errors")
    expect(errors).to_have_attribute("role", "alert")
    expect(errors).to_contain_text("osci.yaml:")
    expect(errors.locator("tbody tr")).to_have_count(len(answer["errors"]))
    expect(page.get_by_test_id("config-loads")).to_contain_text("refused")
    expect(page.get_by_test_id("config-jobs").get_by_role("link", name="lint")).to_be_visible()
    shoot(page, screenshots, "config")
    clean(page)


def test_build_to_test_to_history_by_clicking(history: Dashboard, page: Any) -> None:
    """How people move: a failed build, its failing test, that test's history."""
    build = history.server.finished_builds(job="hostile")[0]
    page.goto(f"{history.url}/build/{build['uuid']}")
    page.locator("a[href^='/test?']").filter(has_text=XSS_NAME).first.click()
    expect(page.get_by_test_id("test-name")).to_have_text(XSS_NAME)
    expect(page.get_by_test_id("test-history").get_by_test_id("history-row").first).to_be_visible()
    clean(page)
    assert page.evaluate("window.__xss") is None
