"""The dashboard at scale: API latency over a big store, and the status page's render in chromium.

Fills a SQLite store with 100,000 builds (90 days, 10 projects, 50 jobs, 3 pipelines, 40 authors)
and 2,000,000 test results (20 per build), rebuilds the statistics roll-ups, serves the real API
and dashboard (``create_app``) with uvicorn, and measures, over many requests with varied targets:

- the builds list (plain, filtered by job / project / result, searched with ``q``, paged),
- a build page (what the page fetches: the build, its tests and its console log),
- a test-history page, the trends page (7 and 30 days), a job page and the fragile tests,
- the status page's time to render 500 items in Debian's chromium (Playwright), from navigation
  start to 500 items on screen, and the time a live update of those items takes to show.

The live status comes from a synthetic server port with 500 items (this is a benchmark of the
dashboard, not of the scheduler). Goals (issue 4): every API/page p95 under 300 ms; status render
under 1 s. Prints its figures and ends with one line of JSON; always exits 0.

    .venv/bin/python bench/dashboard.py [--builds 100000] [--tests 20] [--samples 60] [--db PATH]

With ``--db PATH`` the filled database is kept there and reused by the next run (filling takes
about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, insert, select

from osci.store import BlobStore, Store
from osci.store.models import AttemptRow, Build, Buildset, Item, TestResult
from osci.web.app import create_app

DAYS = 90
PROJECTS = [f"org/project-{n}" for n in range(10)]
PIPELINES = ["check", "gate", "post"]
AUTHORS = [f"Developer {n} <dev{n}@example.org>" for n in range(40)]
JOBS_PER_PROJECT = 5
RESULTS = (
    ["SUCCESS"] * 85 + ["FAILURE"] * 8 + ["ERROR"] * 2 + ["RETRY_LIMIT"] + ["TIMED_OUT"] + ["ABORTED"] * 2 + ["SKIPPED"]
)
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
GOAL_API_MS = 300.0
GOAL_STATUS_MS = 1000.0


def build_uuid_of(build_id: int) -> str:
    return f"{build_id:032x}"


def job_names() -> dict[str, list[str]]:
    return {p: [f"{p.split('/')[1]}-job-{j}" for j in range(JOBS_PER_PROJECT)] for p in PROJECTS}


# -- filling the store ----------------------------------------------------------------------------


def fill(store: Store, builds: int, tests_per_build: int, seed: int = 4) -> None:
    """Bulk-insert items, buildsets, builds, attempts and test results (the write path would take an
    hour at this volume; the roll-ups are rebuilt afterwards, as the migration does)."""
    rng = random.Random(seed)
    jobs = job_names()
    end = datetime.now(UTC)
    start = end - timedelta(days=DAYS)
    span = (end - start).total_seconds()
    per_buildset = JOBS_PER_PROJECT
    buildsets = builds // per_buildset
    flaky = {(p, j, t) for p in PROJECTS for j in jobs[p] for t in range(tests_per_build) if rng.random() < 0.03}
    started = time.perf_counter()
    with store.engine.begin() as conn:
        item_rows, set_rows, build_rows, attempt_rows, test_rows = [], [], [], [], []
        build_id = 0
        for n in range(buildsets):
            project = rng.choice(PROJECTS)
            pipeline = rng.choice(PIPELINES)
            author = rng.choice(AUTHORS)
            created = start + timedelta(seconds=span * n / buildsets)
            change = str(10000 + n) if pipeline != "post" else None
            rev = f"{rng.getrandbits(160):040x}"
            item_rows.append(
                dict(
                    id=n + 1, uuid=f"{n:031x}a", pipeline=pipeline, project=project, branch="main",
                    ref=f"refs/changes/{n}" if change else "refs/heads/main", newrev=rev, change=change,
                    patchset="1" if change else None, author=author, state="completed", result="SUCCESS",
                    enqueue_time=created, live=False,
                )
            )  # fmt: skip
            set_rows.append(
                dict(id=n + 1, uuid=f"{n:031x}b", item_id=n + 1, result="SUCCESS", created=created,
                     completed=created + timedelta(minutes=20), job_graph={"jobs": [], "dependencies": {}})
            )  # fmt: skip
            for job in jobs[project]:
                build_id += 1
                result = rng.choice(RESULTS)
                duration = rng.uniform(60, 1800)
                begin = created + timedelta(seconds=rng.uniform(0, 60))
                finish = begin + timedelta(seconds=duration)
                failing = result in ("FAILURE", "TIMED_OUT")
                statuses = []
                for t in range(tests_per_build):
                    if failing and t == build_id % tests_per_build or (project, job, t) in flaky and rng.random() < 0.15:
                        status = "failed"
                    elif t == tests_per_build - 1:
                        status = "skipped"
                    else:
                        status = "passed"
                    statuses.append(status)
                    test_rows.append(
                        dict(
                            build_id=build_id, name=f"test_{job.replace('-', '_')}_{t}", classname=f"{job}.suite",
                            status=status, duration=rng.uniform(0.01, 3.0),
                            message="assertion failed" if status == "failed" else None,
                            output="Traceback (most recent call last):\n  ...\nAssertionError" if status == "failed" else None,
                            job=job, project=project, pipeline=pipeline, branch="main", newrev=rev, end_time=finish,
                        )
                    )  # fmt: skip
                build_rows.append(
                    dict(
                        id=build_id, uuid=build_uuid_of(build_id), buildset_id=n + 1, job=job, project=project,
                        pipeline=pipeline, branch="main", change=change, patchset="1" if change else None,
                        ref=item_rows[-1]["ref"], newrev=rev, author=author, voting=True, state="completed",
                        result=result, node="local-0", created=created, start_time=begin, attempt_start=begin,
                        end_time=finish, duration=duration, log_url=f"http://bench/build/{build_id}",
                        attempts_count=1, tests_passed=statuses.count("passed"),
                        tests_failed=statuses.count("failed"), tests_skipped=statuses.count("skipped"),
                        tests_error=0, extra={},
                    )
                )  # fmt: skip
                attempt_rows.append(
                    dict(build_id=build_id, number=1, state="completed", result=result, start_time=begin,
                         end_time=finish, node="local-0", phases=[])
                )  # fmt: skip
            if len(test_rows) >= 200_000 or n == buildsets - 1:
                conn.execute(insert(Item), item_rows)
                conn.execute(insert(Buildset), set_rows)
                conn.execute(insert(Build), build_rows)
                conn.execute(insert(AttemptRow), attempt_rows)
                conn.execute(insert(TestResult), test_rows)
                item_rows, set_rows, build_rows, attempt_rows, test_rows = [], [], [], [], []
                print(f"  {build_id:>7} builds inserted ({time.perf_counter() - started:.0f} s)", flush=True)
    rebuild = _rollup_rebuilder()
    if rebuild is not None:
        began = time.perf_counter()
        rebuild(store)
        print(f"  roll-ups rebuilt in {time.perf_counter() - began:.1f} s", flush=True)


def _rollup_rebuilder() -> Any:
    try:
        from osci.store.stats import rebuild_rollups
    except ImportError:
        return None
    return rebuild_rollups


def counts(store: Store) -> tuple[int, int]:
    with store.read_session() as session:
        return (
            session.scalar(select(func.count()).select_from(Build)) or 0,
            session.scalar(select(func.count()).select_from(TestResult)) or 0,
        )


# -- a synthetic live status ----------------------------------------------------------------------


class BusyServer:
    """The server port with 500 live items (4 jobs each, some running) and nothing to do."""

    def __init__(self, items: int = 500) -> None:
        self.items = items
        self.generation = 0
        self._started = time.time() - 300

    def status(self) -> dict[str, Any]:
        jobs = job_names()
        pipelines = []
        per = self.items // len(PIPELINES)
        for p_index, pipeline in enumerate(PIPELINES):
            count = per + (self.items - per * len(PIPELINES) if p_index == 0 else 0)
            items = []
            for n in range(count):
                project = PROJECTS[n % len(PROJECTS)]
                item_id = f"{pipeline}-{n}"
                items.append(
                    {
                        "id": item_id, "pipeline": pipeline, "project": project, "branch": "main",
                        "ref": f"refs/changes/{n}", "newrev": f"{n:040x}", "change": str(20000 + n),
                        "patchset": str(1 + self.generation), "author": AUTHORS[n % len(AUTHORS)],
                        "state": "active", "enqueue_time": self._started + n, "buildset": None,
                        "ahead": f"{pipeline}-{n - 1}" if pipeline == "gate" and n else None,
                        "jobs": [
                            {
                                "name": job, "build": f"live{p_index}{n:05d}{j}",
                                "state": "running" if j < 2 else "waiting", "result": None, "voting": j != 3,
                                "dependencies": [] if j < 2 else [jobs[project][0]],
                                "start_time": self._started + n if j < 2 else None,
                                "elapsed": 120.0 + self.generation if j < 2 else None,
                                "estimated": 600.0, "log_url": "",
                            }
                            for j, job in enumerate(jobs[project][:4])
                        ],
                    }
                )  # fmt: skip
            items_doc = {"name": pipeline, "items": items}
            manager = "dependent" if pipeline == "gate" else "independent"
            pipelines.append({"name": pipeline, "manager": manager, "precedence": "normal", "queues": [items_doc]})
        return {"pipelines": pipelines}

    async def enqueue(self, *args: Any) -> dict[str, Any]:
        raise ValueError("the benchmark enqueues nothing")

    async def dequeue(self, *args: Any) -> list[str]:
        raise ValueError("the benchmark dequeues nothing")

    async def reload(self) -> dict[str, Any]:
        return {"ok": True, "errors": []}

    async def notify(self, connection: str, payload: dict[str, Any]) -> None:
        raise KeyError(connection)

    def metrics(self) -> dict[str, Any]:
        return {"queue_lengths": {}, "builds_by_result": {}, "event_to_start_seconds": [], "build_durations": [],
                "running_builds": 0}  # fmt: skip

    def is_running(self, build_uuid: str) -> bool:
        return False

    def config_errors(self) -> list[dict[str, Any]]:
        return []

    def job_info(self, name: str) -> dict[str, Any] | None:
        return None

    def project_info(self, name: str) -> dict[str, Any] | None:
        return None

    def breaking_pipelines(self) -> list[str]:
        return ["gate", "post"]

    def config_summary(self) -> dict[str, Any]:
        return {"pipelines": [{"name": p, "manager": "independent", "precedence": "normal"} for p in PIPELINES],
                "projects": PROJECTS, "jobs": sorted(j for js in job_names().values() for j in js)}  # fmt: skip


# -- measuring ------------------------------------------------------------------------------------


def serve(app: Any) -> tuple[uvicorn.Server, str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def timed(client: httpx.Client, calls: list[tuple[str, dict[str, Any]]]) -> float:
    """Milliseconds for the page's calls, made one after the other; every answer must be 200."""
    began = time.perf_counter()
    for path, params in calls:
        response = client.get(path, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:200]}")
    return (time.perf_counter() - began) * 1000


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "max": round(ordered[-1], 1)}


def page_requests(rng: random.Random, total_builds: int, tests: int) -> dict[str, Any]:
    """For each page, a function giving the API calls of one visit with a random target."""
    jobs = job_names()
    all_jobs = [j for js in jobs.values() for j in js]

    def build_uuid() -> str:
        return build_uuid_of(rng.choice(log_pool(total_builds)))

    def builds_list() -> list[tuple[str, dict[str, Any]]]:
        variant = rng.choice(["plain", "job", "project", "result", "q", "page", "author"])
        params: dict[str, Any] = {"limit": 50}
        if variant == "job":
            params["job"] = rng.choice(all_jobs)
        elif variant == "project":
            params["project"] = rng.choice(PROJECTS)
        elif variant == "result":
            params["result"] = "FAILURE"
        elif variant == "q":
            params["q"] = rng.choice(all_jobs)[-8:]
        elif variant == "page":
            params["skip"] = rng.choice([50, 500, 2000])
        elif variant == "author":
            params["author"] = rng.choice(AUTHORS)
        return [("/api/builds", params)]

    def build_page() -> list[tuple[str, dict[str, Any]]]:
        uuid = build_uuid()
        return [(f"/api/build/{uuid}", {}), (f"/api/build/{uuid}/tests", {}), (f"/api/build/{uuid}/log", {})]

    def test_history() -> list[tuple[str, dict[str, Any]]]:
        job = rng.choice(all_jobs)
        name = f"test_{job.replace('-', '_')}_{rng.randrange(tests)}"
        return [("/api/test/history", {"name": name, "limit": 100})]

    return {
        "builds list": builds_list,
        "build page": build_page,
        "test history": test_history,
        "trends (7 days)": lambda: [("/api/trends", {"days": 7})],
        "trends (30 days)": lambda: [("/api/trends", {"days": 30})],
        "job page": lambda: [(f"/api/job/{rng.choice(all_jobs)}", {"days": 30})],
        "fragile tests": lambda: [("/api/tests/fragile", {"days": 30})],
        "buildsets list": lambda: [("/api/buildsets", {"limit": 50})],
    }


def log_pool(total_builds: int) -> list[int]:
    """The builds whose pages are visited: 1,000 spread over the whole history."""
    return random.Random(11).sample(range(1, total_builds + 1), min(1000, total_builds))


def write_logs(blobs: BlobStore, total_builds: int) -> None:
    """Console logs of 2,000 lines for the visited builds: one file, hard-linked into each folder."""
    template = blobs.root / "template-log.txt"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text("".join(f"2026-11-23 10:00:{n % 60:02d} | line {n} of the job's output\n" for n in range(2000)))
    for build_id in log_pool(total_builds):
        folder = blobs.build_dir(build_uuid_of(build_id), create=True)
        target = folder / "job-output.txt"
        if not target.exists():
            os.link(template, target)


def measure_api(url: str, total_builds: int, tests: int, samples: int) -> dict[str, dict[str, float]]:
    rng = random.Random(7)
    figures = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for name, visit in page_requests(rng, total_builds, tests).items():
            for _ in range(3):  # warm up caches and the connection
                timed(client, visit())
            figures[name] = percentiles([timed(client, visit()) for _ in range(samples)])
            print(f"  {name:<18} p50 {figures[name]['p50']:>7.1f} ms   p95 {figures[name]['p95']:>7.1f} ms", flush=True)
    return figures


def measure_status(url: str, busy: BusyServer, runs: int = 5) -> dict[str, Any] | None:
    if not Path(CHROMIUM).exists():
        print("  status render: skipped (no /usr/bin/chromium)")
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  status render: skipped (playwright not installed)")
        return None
    renders, updates, arrivals, scripts = [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/status")
            page.wait_for_function(
                "(n) => document.querySelectorAll('[data-testid=item]').length >= n", arg=busy.items, timeout=30_000
            )
            renders.append(page.evaluate("() => performance.now()"))
            marks = dict(page.evaluate("() => performance.getEntriesByType('mark').map(m => [m.name, m.startTime])"))
            if "osci:status-data" in marks and "osci:status-rendered" in marks:
                arrivals.append(marks["osci:status-data"])  # the stream's first message, from navigation start
                scripts.append(marks["osci:status-rendered"] - marks["osci:status-data"])  # building the cards
            # A live update of every item (a new patchset each): time until the page shows it.
            marker = str(2 + busy.generation)
            began = page.evaluate("() => performance.now()")
            busy.generation += 1
            page.wait_for_function(
                "(m) => [...document.querySelectorAll('[data-testid=item]')].slice(-1)[0]?.textContent.includes(m)",
                arg=f",{marker}",
                timeout=30_000,
            )
            updates.append(page.evaluate("() => performance.now()") - began)
            page.close()
        browser.close()
    figures = {
        "render_ms": {"median": round(statistics.median(renders), 1), "max": round(max(renders), 1)},
        "update_ms": {"median": round(statistics.median(updates), 1), "max": round(max(updates), 1)},
        "first_data_ms": round(statistics.median(arrivals), 1) if arrivals else None,
        "build_cards_ms": round(statistics.median(scripts), 1) if scripts else None,
    }
    print(
        f"  status page, {busy.items} items: first render median {figures['render_ms']['median']:.0f} ms "
        f"(max {figures['render_ms']['max']:.0f}); a live update of all items shows in "
        f"{figures['update_ms']['median']:.0f} ms (includes up to 1 s of the stream's pacing)"
    )
    print(
        f"    of the first render: the stream's first message at {figures['first_data_ms']} ms, building "
        f"the cards {figures['build_cards_ms']} ms, then layout and paint (medians)"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--tests", type=int, default=20, help="test results per build")
    parser.add_argument("--samples", type=int, default=60, help="visits per page")
    parser.add_argument("--items", type=int, default=500, help="live items on the status page")
    parser.add_argument("--db", type=Path, help="keep (and reuse) the filled SQLite database here")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="osci-dashboard-bench-"))
    db = args.db or folder / "osci.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{db}")
    store.migrate()
    builds, results = counts(store)
    if builds < args.builds:
        print(f"filling {db} with {args.builds} builds and {args.builds * args.tests} test results", flush=True)
        fill(store, args.builds, args.tests)
        builds, results = counts(store)
    else:
        print(f"reusing {db}: {builds} builds, {results} test results")
    blobs = BlobStore((args.db.parent if args.db else folder) / "logs")
    write_logs(blobs, builds)
    busy = BusyServer(args.items)
    server, url = serve(create_app(store, blobs, busy))
    print(f"API latency over {args.samples} visits per page (sequential, one client, SQLite):")
    api = measure_api(url, builds, args.tests, args.samples)
    status = measure_status(url, busy)
    server.should_exit = True
    store.close()

    worst = max(figure["p95"] for figure in api.values())
    render = status["render_ms"]["median"] if status else None
    summary = {
        "builds": builds,
        "test_results": results,
        "api_ms": api,
        "worst_p95_ms": worst,
        "status_items": args.items,
        "status": status,
        "goal_api_met": worst < GOAL_API_MS,
        "goal_status_met": render is not None and render < GOAL_STATUS_MS,
        "load_average": os.getloadavg()[0],
    }
    print(f"worst p95 {worst:.1f} ms (goal < {GOAL_API_MS:.0f}); status render {render} ms (goal < {GOAL_STATUS_MS:.0f})")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
