"""The nodes page and a node's page in a real browser, against a real `osci server` with a grid:

- `here` (local, label `small`): runs the `hang` job, so it is in-use with a build;
- `lab` (static, hosts on 127.0.0.1 at a closed port): `ns1`..`ns3` (label `netscaler`), `gpu2` and
  a host named ``<img src=x onerror=alert(1)>`` (label `gpu`), and `flaky1` (label `flaky`), which
  goes offline when the `remote` job cannot reach it (and halts its label);
- admin actions through the API: `ns1` in maintenance, `ns2` and `ns3` quarantined (the label
  `netscaler` halts), the hostile host held with a hostile reason; one pending autohold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from browser.conftest import XSS_NAME, shoot
from server.conftest import Repo, ServerProcess, free_port, wait_for

ROWS = '[data-testid="node-row"]'
HOSTILE_REASON = "<img src=x onerror=alert(1)> <script>window.__xss = 1</script>"

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
- provider:
    name: here
    driver: local
    slots: 2
    label: small
- provider:
    name: lab
    driver: static
    username: ci
    known-hosts: ignore
    connect-timeout: 2
    probe-interval: 1
    halt-above: 0.5
    hosts:
      - {name: ns1, host: 127.0.0.1, port: @PORT@, label: netscaler, provides: [root, sriov]}
      - {name: ns2, host: 127.0.0.1, port: @PORT@, label: netscaler, provides: [root, sriov]}
      - {name: ns3, host: 127.0.0.1, port: @PORT@, label: netscaler, provides: [root]}
      - {name: gpu2, host: 127.0.0.1, port: @PORT@, label: gpu, provides: [cuda]}
      - {name: "@XSS@", host: 127.0.0.1, port: @PORT@, label: gpu}
      - {name: flaky1, host: 127.0.0.1, port: @PORT@, label: flaky}
- project:
    name: demo
"""

IN_REPO = """
- job:
    name: hang
    nodeset: {nodes: [{name: box, label: small}]}
    run:
      - script: |
          i=0
          while [ ! -e "@ROOT@/release" ] && [ $i -lt 1500 ]; do i=$((i + 1)); sleep 0.2; done
- job:
    name: remote
    attempts: 1
    nodeset: {nodes: [{name: box, label: flaky}]}
    run: {script: "echo never runs"}
- project:
    check:
      jobs: [hang, remote]
"""


class Grid:
    def __init__(self, server: ServerProcess, root: Path) -> None:
        self.server = server
        self.root = root

    @property
    def url(self) -> str:
        return self.server.url

    def nodes(self) -> dict[str, Any]:
        return self.server.client.get("/api/nodes").json()

    def node(self, name: str) -> dict[str, Any]:
        return next(n for n in self.nodes()["nodes"] if n["name"] == name)

    def local(self) -> dict[str, Any]:
        """The `here` provider's node (named after the machine)."""
        return next(n for n in self.nodes()["nodes"] if n["provider"] == "here")

    def act(self, name: str, action: str, reason: str = "") -> dict[str, Any]:
        response = self.server.client.post(
            f"/api/nodes/{quote(name, safe='')}",
            json={"action": action, "reason": reason},
            headers=self.server.auth(),
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    root = tmp_path_factory.mktemp("grid")
    repo = Repo(root, "demo")
    repo.write(".osci.yaml", IN_REPO.replace("@ROOT@", str(root)))
    repo.commit("initial configuration")
    repo.push()
    config = root / "osci.yaml"
    text = CONFIG.lstrip("\n").replace("@ROOT@", str(root)).replace("@PORT@", str(free_port()))
    config.write_text(text.replace("@XSS@", XSS_NAME))
    server = ServerProcess(root, config)
    server.start()
    grid = Grid(server, root)
    try:
        wait_for(lambda: "watching demo" in server.log(), 30, what="the connection to see the repository")
        repo.write("src/change.txt", "a change\n")
        repo.commit("a change")
        repo.push()
        wait_for(lambda: grid.node("flaky1")["state"] == "offline", 60, what="flaky1 to go offline")
        wait_for(lambda: grid.nodes()["halted"].get("flaky"), 10, what="label flaky to halt")
        wait_for(lambda: grid.local()["builds"], 60, what="hang to run on the local node")
        grid.act("ns1", "maintenance", "firmware upgrade")
        grid.act("ns2", "quarantine", "bad NIC")
        grid.act("ns3", "quarantine")
        grid.act(XSS_NAME, "hold", HOSTILE_REASON)
        response = server.client.post(
            "/api/autohold",
            json={"project": "demo", "job": "unit", "count": 2, "reason": "debug the unit failures"},
            headers=server.auth(),
        )
        assert response.status_code == 200, response.text
        assert grid.nodes()["halted"].get("netscaler")
        yield grid
    finally:
        (root / "release").touch()
        if server.process and server.process.poll() is None:
            server.terminate(30)
        server.client.close()


def row(page: Any, name: str) -> Any:
    return page.locator(f"{ROWS}[data-node={json.dumps(name)}]")


def assert_nothing_ran(page: Any) -> None:
    assert page.locator("img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    assert page.errors == []


def test_nodes_page_lists_states_labels_and_halts(grid: Grid, page: Any, screenshots: Path) -> None:
    api = grid.nodes()
    page.goto(f"{grid.url}/status")
    page.locator('#nav a[href="/nodes"]').click()
    expect(page).to_have_url(re.compile(r"/nodes$"))
    expect(page.locator('#nav a[href="/nodes"]')).to_have_class(re.compile(r"\bactive\b"))
    rows = page.locator(ROWS)
    expect(rows).to_have_count(len(api["nodes"]))
    expected = {
        "ns1": "maintenance",
        "ns2": "quarantined",
        "ns3": "quarantined",
        "gpu2": "ready",
        XSS_NAME: "held",
        "flaky1": "offline",
    }
    for name, state in expected.items():
        expect(row(page, name)).to_have_attribute("data-state", state)
        expect(row(page, name).get_by_test_id("node-state")).to_have_text(state)
    expect(row(page, "ns1").get_by_test_id("node-detail")).to_contain_text("firmware upgrade")
    expect(row(page, "flaky1").get_by_test_id("node-detail")).to_contain_text("cannot connect")
    expect(row(page, "ns1")).to_contain_text("sriov")

    # The local node runs `hang`: in use, its build linked to the build page.
    local = grid.local()
    assert local["state"] == "in-use" and local["builds"]
    expect(row(page, local["name"])).to_have_attribute("data-state", "in-use")
    build_link = row(page, local["name"]).get_by_test_id("node-builds").locator("a")
    expect(build_link).to_have_attribute("href", f"/build/{local['builds'][0]}")

    # The summary per label, and a banner for each halted label with the reason.
    summary = page.get_by_test_id("label-summary")
    netscaler = summary.locator('[data-testid="label-row"][data-label="netscaler"]')
    expect(netscaler.get_by_test_id("label-total")).to_have_text("3")
    expect(netscaler.locator('[data-state="quarantined"]')).to_have_text("2")
    expect(netscaler.locator('[data-state="maintenance"]')).to_have_text("1")
    expect(netscaler.locator('[data-state="ready"]')).to_have_text("0")
    gpu = summary.locator('[data-testid="label-row"][data-label="gpu"]')
    expect(gpu.locator('[data-state="held"]')).to_have_text("1")
    expect(gpu.locator('[data-state="ready"]')).to_have_text("1")
    banner = page.locator('[data-testid="halted-label"][data-label="netscaler"]')
    expect(banner).to_contain_text(api["halted"]["netscaler"])
    expect(banner).to_contain_text("osci node resume netscaler")
    expect(page.locator('[data-testid="halted-label"][data-label="flaky"]')).to_be_visible()
    expect(page.locator('[data-testid="halted-label"][data-label="gpu"]')).to_have_count(0)

    # The pending autohold, and the last change of each node from its events.
    expect(page.get_by_test_id("autoholds")).to_contain_text("debug the unit failures")
    expect(page.get_by_test_id("autoholds")).to_contain_text("0 of 2")
    expect(row(page, "ns1").get_by_test_id("node-changed")).not_to_have_text("–")
    shoot(page, screenshots, "nodes")
    assert_nothing_ran(page)


def test_nodes_filter_by_name_label_and_state(grid: Grid, page: Any) -> None:
    page.goto(f"{grid.url}/nodes")
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible()
    total = rows.count()
    search = page.get_by_test_id("nodes-filter")

    search.fill("netscaler")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("node-count")).to_have_text(f"3 of {total} nodes")
    assert "q=netscaler" in page.evaluate("location.search")

    page.get_by_test_id("nodes-state").select_option("quarantined")
    expect(rows).to_have_count(2)
    expect(page.locator(f"{ROWS}:not([data-state=quarantined])")).to_have_count(0)

    search.fill("ns2")
    expect(rows).to_have_count(1)
    expect(row(page, "ns2")).to_be_visible()

    search.fill("")
    page.get_by_test_id("nodes-state").select_option("")
    page.get_by_test_id("nodes-label").select_option("gpu")
    expect(rows).to_have_count(2)
    assert "label=gpu" in page.evaluate("location.search")

    # Picking a label in the summary filters the table too; the filters survive a reload.
    page.get_by_test_id("label-summary").locator('[data-label="flaky"] a').click()
    expect(rows).to_have_count(1)
    expect(row(page, "flaky1")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("nodes-label")).to_have_value("flaky")
    expect(rows).to_have_count(1)

    search.fill("no-such-node-anywhere")
    expect(rows).to_have_count(0)
    expect(page.get_by_text("No node matches these filters.")).to_be_visible()
    assert page.errors == []


def test_a_state_change_shows_without_a_reload(grid: Grid, page: Any) -> None:
    page.goto(f"{grid.url}/nodes")
    gpu2 = row(page, "gpu2")
    expect(gpu2).to_have_attribute("data-state", "ready")
    page.evaluate("window.__samePage = true")
    try:
        grid.act("gpu2", "maintenance", "swapping the card")
        expect(gpu2).to_have_attribute("data-state", "maintenance", timeout=15_000)
        expect(gpu2.get_by_test_id("node-detail")).to_contain_text("swapping the card")
        gpu = page.get_by_test_id("label-summary").locator('[data-label="gpu"]')
        expect(gpu.locator('[data-state="maintenance"]')).to_have_text("1")
    finally:
        grid.act("gpu2", "release")
    expect(gpu2).to_have_attribute("data-state", "ready", timeout=15_000)
    assert page.evaluate("window.__samePage") is True  # no reload happened
    assert page.errors == []


def test_node_page_shows_fields_and_events(grid: Grid, page: Any, screenshots: Path) -> None:
    page.goto(f"{grid.url}/nodes")
    row(page, "ns1").locator("td.col-name a").click()
    expect(page).to_have_url(re.compile(r"/node/ns1$"))
    expect(page.get_by_test_id("node-name")).to_have_text("ns1")
    expect(page.locator('#nav a[href="/nodes"]')).to_have_class(re.compile(r"\bactive\b"))
    fields = page.get_by_test_id("node-fields")
    expect(fields.locator('[data-field="label"]')).to_have_text("netscaler")
    expect(fields.locator('[data-field="provider"]')).to_have_text("lab")
    expect(fields.locator('[data-field="state"]')).to_have_text("maintenance")
    expect(fields.locator('[data-field="why"]')).to_contain_text("firmware upgrade")
    expect(fields.locator('[data-field="capabilities"]')).to_contain_text("sriov")
    expect(page.locator('[data-testid="halted-label"][data-label="netscaler"]')).to_be_visible()

    api = grid.server.client.get("/api/nodes/ns1").json()
    events = page.get_by_test_id("node-event")
    expect(events).to_have_count(len(api["events"]))
    types = events.evaluate_all("rows => rows.map(row => row.dataset.type)")
    assert types == [event["type"] for event in api["events"]]
    # newest first: registered at start, put in maintenance, then its label halted (ns2, ns3)
    assert types[0] == "label-halted" and types[-1] == "registered"
    assert types.index("admin-maintenance") == 1
    expect(events.first).to_contain_text(api["events"][0]["detail"])
    expect(events.nth(1)).to_contain_text("firmware upgrade")
    shoot(page, screenshots, "node")

    page.goto(f"{grid.url}/node/no-such-node")
    expect(page.get_by_test_id("node-error")).to_contain_text("No node no-such-node")
    assert page.errors == []


def test_hostile_node_name_and_detail_are_text(grid: Grid, page: Any) -> None:
    page.goto(f"{grid.url}/nodes")
    hostile = row(page, XSS_NAME)
    expect(hostile.locator("td.col-name a")).to_have_text(XSS_NAME)
    expect(hostile.get_by_test_id("node-detail")).to_contain_text(HOSTILE_REASON)
    expect(hostile.get_by_test_id("node-address")).to_contain_text("127.0.0.1")  # held: how to reach it
    page.wait_for_timeout(300)
    assert_nothing_ran(page)

    hostile.locator("td.col-name a").click()
    expect(page.get_by_test_id("node-name")).to_have_text(XSS_NAME)
    expect(page.get_by_test_id("held-info")).to_contain_text(HOSTILE_REASON)
    expect(page.get_by_test_id("held-address")).to_contain_text("ssh -p")
    expect(page.get_by_test_id("node-event").first).to_contain_text(HOSTILE_REASON)

    page.goto(f"{grid.url}/nodes?q={quote(HOSTILE_REASON)}&label={quote(XSS_NAME)}")
    expect(page.get_by_test_id("nodes-filter")).to_have_value(HOSTILE_REASON)
    page.wait_for_timeout(300)
    assert_nothing_ran(page)


def test_nodes_page_without_nodes(grid: Grid, page: Any) -> None:
    empty = {"nodes": [], "halted": {}, "autoholds": []}
    page.route(re.compile(r"/api/nodes$"), lambda route: route.fulfill(json=empty))
    page.goto(f"{grid.url}/nodes")
    expect(page.get_by_text("No nodes: the server has no node pool yet.")).to_be_visible()
    expect(page.get_by_test_id("label-summary")).to_contain_text("No labels")
    expect(page.locator(ROWS)).to_have_count(0)
    expect(page.get_by_test_id("autoholds")).to_be_hidden()
    assert page.errors == []
