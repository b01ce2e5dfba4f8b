"""Hostile data is shown as text and runs nothing: a test named ``<img src=x onerror=alert(1)>``
whose output holds ``<script>``, and a console log line with ``<script>alert('log')</script>``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from playwright.sync_api import expect

from browser.conftest import XSS_NAME, Dashboard
from browser.live_helpers import build_of


def assert_nothing_ran(page: Any) -> None:
    assert page.locator("img").count() == 0  # the page has no images at all; an injected one would show
    assert page.locator("main script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.errors == []


def test_hostile_test_names_output_and_log_lines_are_text(dashboard: Dashboard, page: Any) -> None:
    hostile = build_of(dashboard, "hostile", "FAILURE")
    page.goto(f"{dashboard.url}/build/{hostile['uuid']}")

    failed = page.get_by_test_id("failed-test")
    expect(failed.locator("a")).to_have_text(XSS_NAME)
    expect(page.get_by_test_id("tests")).to_contain_text("<b>bold</b>")  # the failure message, as text
    expect(page.get_by_test_id("test-output")).to_have_text("<script>window.__xss = 1; alert('xss')</script>")
    log = page.get_by_test_id("log")
    expect(log).to_contain_text("<script>alert('log')</script> in the console log")
    expect(page.get_by_test_id("attempts")).to_contain_text("<script>alert('log')</script>")
    assert page.locator("b", has_text="bold").count() == 0
    page.wait_for_timeout(300)  # an injected handler would have run by now; nothing to wait for otherwise
    assert_nothing_ran(page)


def test_hostile_filter_values_are_text(dashboard: Dashboard, page: Any) -> None:
    needle = quote(XSS_NAME + "<script>window.__xss=1</script>")
    page.goto(f"{dashboard.url}/status?q={needle}")
    expect(page.get_by_test_id("status-filter")).to_have_value(XSS_NAME + "<script>window.__xss=1</script>")
    expect(page.get_by_test_id("item-count")).to_have_text(re.compile(r"^0 of \d+ items?$"))
    page.goto(f"{dashboard.url}/builds?q={needle}&job={needle}")
    expect(page.get_by_test_id("search")).to_have_value(XSS_NAME + "<script>window.__xss=1</script>")
    expect(page.get_by_text("No builds match these filters.")).to_be_visible()
    page.goto(f"{dashboard.url}/build/{quote('<img src=x onerror=alert(1)>', safe='')}")
    expect(page.locator("main")).to_contain_text("No build")
    assert_nothing_ran(page)
