"""The server process: wires connections, scheduler, executor slots, store, outbox and HTTP API
together in one asyncio loop, and stops cleanly on SIGTERM/SIGINT (SIGHUP reloads the config)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osci.config import Config, ConfigErrors, discover_config_files, load_config
from osci.connections.base import Connection, ConnectionConfigError, ConnectionContext, load_driver
from osci.executor.proctree import kill_by_variable
from osci.merger import repos
from osci.merger.speculate import Merger
from osci.model import Event
from osci.nodes.pool import NodePool
from osci.nodes.providers.agent import AgentProvider
from osci.scheduler.core import Scheduler, SchedulerError
from osci.server import config_info
from osci.server import nodes as server_nodes
from osci.server.culprits import CulpritService, ObservedRecords
from osci.server.gatekeeper import ServerGatekeeper
from osci.server.outbox import Outbox
from osci.server.planner import ConfigPlanner
from osci.server.repo_configs import RepoConfigs
from osci.store import BlobStore, Store
from osci.web.app import stop_streams

log = logging.getLogger("osci.server")

DEFAULT_PORT = 8411


@dataclass
class ServerSettings:
    config_path: Path
    data_dir: Path
    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    db_url: str | None = None
    slots: int | None = None
    base_url: str | None = None
    retention_days: float | None = None

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'osci.db').resolve()}"

    def public_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


class ConfigLoadFailed(RuntimeError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("\n".join(f"{e['file']}:{e['line']}:{e['column']}: {e['message']}" for e in errors))
        self.errors = errors


def load_central_config(path: Path) -> Config:
    files = discover_config_files(path) if path.is_dir() else [path]
    if not files:
        raise ConfigLoadFailed(
            [{"file": str(path), "line": 0, "column": 0, "message": "no configuration found"}]
        )
    try:
        return load_config(files)
    except ConfigErrors as exc:
        raise ConfigLoadFailed(
            [
                {
                    "file": e.location.file,
                    "line": e.location.line,
                    "column": e.location.column,
                    "message": e.message,
                }
                for e in exc.errors
            ]
        ) from None


class Server:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self._db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osci-db")
        self.config: Config | None = None
        self.store: Store | None = None
        self.blobs: BlobStore | None = None
        self.connections: dict[str, Connection] = {}
        self.scheduler: Scheduler | None = None
        self.outbox: Outbox | None = None
        self.dispatcher: NodePool | None = None
        self._config_errors: list[dict[str, Any]] = []
        self._stop = asyncio.Event()
        self._web: Any = None
        self.build_durations: deque[float] = deque(maxlen=10000)
        self.started = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self._projects_cache: tuple[Config, list[tuple[str, str | None]]] | None = None
        self.repo_configs = RepoConfigs(self.data_dir / "scratch", self._default_branch)
        self.merger = Merger(self.data_dir / "merger")  # speculative states; a gate pushes from it
        self.culprits = CulpritService(self)  # culprit finding and promotion (server/culprits.py)

    # -- helpers ----------------------------------------------------------

    async def db(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a store call in the single database thread (SQLite writes are serialised there)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_pool, lambda: func(*args, **kwargs))

    def source_of(self, project: str) -> str | None:
        for connection in self.connections.values():
            url = connection.clone_url(project)
            if url:
                return url
        return None

    async def fetch_source(self, item: Any) -> tuple[str, dict[str, str]] | None:
        """Where the merger fetches an item's project (its own connection first) and the
        environment git needs for it."""
        candidates = [self.connections[item.connection]] if item.connection in self.connections else []
        for connection in [*candidates, *self.connections.values()]:
            url = connection.clone_url(item.project)
            if url:
                return url, await connection.git_env(item.project)
        return None

    def projects(self) -> list[tuple[str, str | None]]:
        """(project, default branch) of the running configuration; computed once per configuration."""
        if self.config is None:
            return []
        cached = self._projects_cache
        if cached is not None and cached[0] is self.config:
            return cached[1]
        result = []
        for name in self.config.projects:
            if name:
                settings = self.config.project_settings(name)
                result.append((name, settings.default_branch or "main"))
        self._projects_cache = (self.config, result)
        return result

    def _default_branch(self, project: str) -> str | None:
        return dict(self.projects()).get(project)

    async def _read_repo_configs(self) -> None:
        """Projects in local repositories: their in-repo configuration at the default branch
        tip, so the dashboard knows their jobs before anything runs."""
        for project, branch in self.projects():
            source = self.source_of(project)
            if source is not None:
                await self.repo_configs.read_tip(project, source, branch)

    async def resolve_tip(self, project: str, branch: str) -> str | None:
        source = self.source_of(project)
        if source is None:
            return None
        try:
            return await repos.resolve(source, f"refs/heads/{branch}") or None
        except repos.GitError:
            return None

    # -- start and stop ---------------------------------------------------

    async def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.config = load_central_config(self.settings.config_path)
        except ConfigLoadFailed as exc:
            for line in str(exc).splitlines():
                print(f"{line}", file=sys.stderr)
            print("osci server: the configuration does not load; not starting", file=sys.stderr)
            return 1
        self.store = Store(self.settings.database_url())
        await self.db(self.store.migrate)
        await self.db(self.store.interrupt_culprit_searches)  # their tasks died with the last server
        await self.db(
            self.store.record_config_load, ok=True, source=str(self.settings.config_path), errors=[]
        )
        self.blobs = BlobStore(self.data_dir / "logs")
        await self._bootstrap_token()
        try:
            self.connections = self._make_connections(self.config)
            check_pipelines(self.config, self.connections)
        except ConnectionConfigError as exc:
            print(f"osci server: {exc}", file=sys.stderr)
            return 1
        try:
            self.dispatcher = server_nodes.make_pool(  # the providers' nodes (server/nodes.py)
                self.config,
                self.settings.slots,
                lambda uuid: self.blobs.build_dir(uuid, create=True),
                self.data_dir / "workspaces",
                self.store,
                self.db,
                lambda: self.connections,
            )
        except ConnectionConfigError as exc:
            print(f"osci server: {exc}", file=sys.stderr)
            return 1
        records = ObservedRecords(
            self.store,
            self.db,
            on_report=lambda: self.outbox and self.outbox.wake(),
            observer=self.culprits,
        )
        merger = self.merger
        planner = ConfigPlanner(
            lambda: self.config,
            self.source_of,
            self.data_dir / "scratch",
            merger=merger,
            fetch_source=self.fetch_source,
            on_branch_config=self.repo_configs.seen,
        )
        gatekeeper = ServerGatekeeper(lambda: self.connections, merger, self.fetch_source)
        self.scheduler = Scheduler(
            self.config,
            records,
            planner,
            self.dispatcher,
            base_url=self.settings.public_url(),
            gatekeeper=gatekeeper,
        )
        self.scheduler.on_build_done = lambda record: self.build_durations.append(record.duration)
        self.dispatcher.on_change = self.scheduler.wake
        await self.dispatcher.start(await server_nodes.stored_states(self.store, self.db))
        await server_nodes.restore_autoholds(self.dispatcher, self.store, self.db)
        self.outbox = Outbox(self.store, lambda: self.connections, self.db)
        await self._kill_leftovers()
        await self.scheduler.start()
        self.outbox.start()
        for connection in self.connections.values():
            await connection.start(self.submit_event)
        self._configure_timers(self.config)
        await self._read_repo_configs()
        web_task = await self._start_web()
        self._install_signals()
        log.info("osci server listening on %s (data in %s)", self.settings.public_url(), self.data_dir)
        self.started.set()
        retention = asyncio.create_task(self._retention_loop())
        await self._stop.wait()
        log.info("osci server stopping")
        retention.cancel()
        for connection in self.connections.values():
            with contextlib.suppress(Exception):
                await connection.stop()
        await self.culprits.stop()
        await self.scheduler.stop()
        await self.outbox.stop()
        if self._web is not None:
            stop_streams(self._web.config.app)  # followers of a log must not hold the shutdown
            self._web.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(web_task, timeout=5)
        self.dispatcher.close()
        self._db_pool.shutdown(wait=True)
        self.store.close()
        log.info("osci server stopped")
        return 0

    def stop(self) -> None:
        self._stop.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))

    async def _kill_leftovers(self) -> None:
        """Builds cut off by a crash may have left processes behind; they die before the rerun."""
        for build in await self.db(self.store.interrupted_builds):
            killed = await asyncio.get_running_loop().run_in_executor(
                None, kill_by_variable, "OSCI_BUILD", build.uuid
            )
            if killed:
                log.warning("killed %d process(es) left by interrupted build %s", killed, build.uuid)

    async def _bootstrap_token(self) -> None:
        tokens = await self.db(self.store.list_tokens)
        if tokens:
            return
        secret = await self.db(self.store.create_token, "admin", "admin")
        # Printed once, here, and never logged: only its hash is stored.
        print(f"osci server: admin token (shown once, keep it): {secret}", file=sys.stderr, flush=True)
        token_file = os.environ.get("OSCI_ADMIN_TOKEN_FILE")
        if token_file:
            path = Path(token_file)
            path.write_text(secret + "\n")
            path.chmod(0o600)

    def _make_connections(self, config: Config) -> dict[str, Connection]:
        context = ConnectionContext(
            data_dir=self.data_dir,
            base_url=self.settings.public_url(),
            projects=self.projects,
            extra={"resolve_tip": self.resolve_tip, "merger_repo": self.merger.repo_path},
        )
        made: dict[str, Connection] = {}
        for name, definition in config.connections.items():
            driver = load_driver(definition.driver or "")
            made[name] = driver(name, dict(definition.data), context)
        uses_timer = any("timer" in p.triggers for p in config.pipelines.values())
        if uses_timer and "timer" not in made:
            made["timer"] = load_driver("timer")("timer", {}, context)  # the built-in timer
        return made

    def _configure_timers(self, config: Config) -> None:
        for name, connection in self.connections.items():
            if not hasattr(connection, "set_schedules"):
                continue
            schedules = []
            for pipeline in config.pipelines.values():
                for flt in pipeline.triggers.get(name, []):
                    for spec in _as_list(flt.options.get("time")):
                        schedules.append((pipeline.name, str(spec)))
            connection.set_schedules(schedules)

    async def _start_web(self) -> asyncio.Task:
        import uvicorn

        from osci.web.app import create_app

        app = create_app(self.store, self.blobs, self)
        app.state.agent_providers = [  # the agents' routes reach their provider (web/routes_agents.py)
            p for p in (self.dispatcher.providers.values() if self.dispatcher else []) if isinstance(p, AgentProvider)
        ]
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=self.settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._web = uvicorn.Server(config)
        self._web.install_signal_handlers = lambda: None  # ours are installed on the loop
        task = asyncio.create_task(self._web.serve(), name="osci-web")
        while not self._web.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            task.result()
        return task

    async def _retention_loop(self) -> None:
        days = self.settings.retention_days
        if not days:
            return
        while True:
            try:
                removed = await self.db(self.blobs.prune, days)
                if removed:
                    log.info("retention: removed the logs of %d builds older than %g days", removed, days)
            except Exception:
                log.exception("retention pass failed")
            await asyncio.sleep(3600)

    # -- events -----------------------------------------------------------

    async def submit_event(self, event: Event) -> None:
        """Connections emit here: the event is recorded before anything acts on it."""
        await self.scheduler.submit(event)

    # -- the port the HTTP API uses --------------------------------------------------

    def status(self) -> dict[str, Any]:
        status = self.scheduler.status()
        status["background"] = self.culprits.status()  # running culprit searches and promotions
        if self.dispatcher is not None:
            status["halted"] = dict(self.dispatcher.halted)  # labels whose dispatching is halted
        return status

    async def promote(self, pipeline: str | None, project: str | None) -> dict[str, Any]:
        """`osci promote`: test the staging branch's tip in a promote pipeline now."""
        return await self.culprits.promote_by_hand(pipeline, project)

    def nodes(self) -> dict[str, Any]:
        return self.dispatcher.snapshot() if self.dispatcher is not None else {"nodes": [], "halted": {}}

    async def node(self, name: str) -> dict[str, Any] | None:
        return await server_nodes.node_doc(self.dispatcher, self.store, self.db, name)

    def node_action(self, name: str, action: str, reason: str = "") -> dict[str, Any]:
        return server_nodes.node_action(self.dispatcher, name, action, reason)

    def resume_label(self, label: str) -> bool:
        return self.dispatcher.resume(label)

    async def autohold(self, project: str, job: str, count: int, reason: str) -> dict[str, Any]:
        return await server_nodes.add_autohold(self.dispatcher, self.store, self.db, project, job, count, reason)

    async def enqueue(
        self, project: str | None, pipeline: str, branch: str | None, ref: str | None, change: str | None
    ) -> dict[str, Any]:
        if pipeline not in self.config.pipelines:
            raise ValueError(
                f"unknown pipeline {pipeline!r}; pipelines: {', '.join(self.config.pipelines) or 'none'}"
            )
        if change is not None and (project is None or self._review_connections(project)):
            return await self._enqueue_change(project, pipeline, str(change))
        if project is None:
            raise ValueError("name a project (or a change of a code-review connection)")
        if self.config.projects and project not in self.config.projects:
            raise ValueError(f"unknown project {project!r}")
        source = self.source_of(project)
        if source is None:
            raise ValueError(f"no connection serves project {project!r}")
        if branch is None and ref is None:
            branch = dict(self.projects()).get(project) or "main"
        rev = ref or f"refs/heads/{branch}"
        try:
            newrev = await repos.resolve(source, rev)
        except repos.GitError:
            newrev = ""
        if not newrev:
            raise ValueError(f"cannot resolve {rev!r} in project {project!r}")
        event = Event(
            connection="manual",
            type="manual",
            project=project,
            branch=branch,
            ref=ref or f"refs/heads/{branch}",
            newrev=newrev,
            change=change,
            pipeline=pipeline,
        )
        await self.submit_event(event)
        return {"event": event.uuid, "newrev": newrev}

    def _review_connections(self, project: str | None) -> list[Connection]:
        """Connections that know changes (they implement change_event), serving `project` first."""
        reviews = [
            c for c in self.connections.values() if type(c).change_event is not Connection.change_event
        ]
        if project is None:
            return reviews
        return [c for c in reviews if c.clone_url(project)]

    async def _enqueue_change(self, project: str | None, pipeline: str, change: str) -> dict[str, Any]:
        """Test a review's change by hand: its connection says where it is (`N` or `N,P`)."""
        number, _, patchset = change.partition(",")
        if not number.strip().isdigit() or (patchset and not patchset.strip().isdigit()):
            raise ValueError(f"a change is NUMBER or NUMBER,PATCHSET, got {change!r}")
        for connection in self._review_connections(project):
            event = await connection.change_event(number.strip(), patchset.strip() or None, project)
            if event is None:
                continue
            if project is not None and event.project != project:
                raise ValueError(f"change {number} belongs to {event.project}, not {project}")
            if self.config.projects and event.project not in self.config.projects:
                raise ValueError(f"change {number} is in {event.project}, which is not configured here")
            event.type, event.pipeline = "manual", pipeline
            await self.submit_event(event)
            return {
                "event": event.uuid,
                "newrev": event.newrev,
                "change": event.change,
                "patchset": event.patchset,
            }
        raise ValueError(f"no connection knows change {change}")

    async def dequeue(
        self, item: str | None, project: str | None, change: str | None, ref: str | None, pipeline: str | None
    ) -> list[str]:
        if not any((item, project, change, ref)):
            raise ValueError("name an item, a project, a change or a ref to dequeue")
        try:
            return await self.scheduler.dequeue(
                item=item, project=project, change=change, ref=ref, pipeline=pipeline
            )
        except SchedulerError as exc:
            raise ValueError(str(exc)) from None

    async def reload(self) -> dict[str, Any]:
        """Load the configuration again; one that does not load never replaces the running one."""
        try:
            config = await asyncio.get_running_loop().run_in_executor(
                None, load_central_config, self.settings.config_path
            )
        except ConfigLoadFailed as exc:
            return await self._reload_refused(exc.errors, exc)
        try:
            check_pipelines(config, self.connections)
        except ConnectionConfigError as exc:
            errors = [{"file": str(self.settings.config_path), "line": 0, "column": 0, "message": str(exc)}]
            return await self._reload_refused(errors, exc)
        if self.dispatcher is not None:  # providers: checked, then the running pool follows them
            errors = server_nodes.reload_errors(self.dispatcher, config, self.connections)
            if errors:
                why = "\n".join(f"{e['file']}:{e['line']}:{e['column']}: {e['message']}" for e in errors)
                return await self._reload_refused(errors, why)
            try:
                pool = await server_nodes.reconfigure_pool(self.dispatcher, config)
            except Exception as exc:  # a bug: say so, and keep the running configuration
                log.exception("reconfiguring the node pool failed; keeping the running configuration")
                where = str(self.settings.config_path)
                return {"ok": False, "errors": [{"file": where, "line": 0, "column": 0, "message": f"node pool: {exc}"}]}
            if self._web is not None:  # the agents' routes reach removed providers' busy agents too
                self._web.config.app.state.agent_providers = [
                    p for p in self.dispatcher.serving() if isinstance(p, AgentProvider)
                ]
        else:
            pool = []
        self.config = config
        self._config_errors = []
        self.scheduler.set_config(config)
        self._configure_timers(config)
        await self.db(
            self.store.record_config_load, ok=True, source=str(self.settings.config_path), errors=[]
        )
        log.info("configuration reloaded: %s", config.summary())
        return {"ok": True, "errors": [], "pool": pool}

    async def _reload_refused(self, errors: list[dict[str, Any]], why: object) -> dict[str, Any]:
        """A reloaded configuration that cannot replace the running one: its errors are shown
        (API, dashboard, the store's config loads) and logged; nothing else changes."""
        self._config_errors = errors
        await self.db(self.store.record_config_load, ok=False, source=str(self.settings.config_path), errors=errors)
        log.error("configuration reload failed; keeping the running configuration:\n%s", why)
        return {"ok": False, "errors": errors}

    async def notify(self, connection: str, payload: dict[str, Any]) -> None:
        """A hook poked a connection: check the request now, do the (slow) polling in the
        background, so a `git push` never waits for the server."""
        target = self.connections[connection]
        project = payload.get("project") if isinstance(payload, dict) else None
        watches = getattr(target, "watches", None)
        if project and callable(watches) and not watches(project):
            raise ValueError(f"connection {connection} does not watch project {project!r}")
        task = asyncio.create_task(self._notify(target, payload), name=f"notify-{connection}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def webhook(self, connection: str, headers: dict[str, str], body: bytes) -> str:
        """A webhook delivery: the connection verifies it and emits its events (recorded before
        anything acts on them, as for every event)."""
        return await self.connections[connection].webhook(headers, body)

    @staticmethod
    async def _notify(target: Connection, payload: dict[str, Any]) -> None:
        try:
            await target.notify(payload)
        except Exception:
            log.exception("connection %s: notify failed", target.name)

    def metrics(self) -> dict[str, Any]:
        queues: dict[str, int] = {name: 0 for name in self.config.pipelines}
        for item in self.scheduler.items.values():
            if item.live and item.probe_of is None:
                queues[item.pipeline] = queues.get(item.pipeline, 0) + 1
        return {
            "queue_lengths": queues,
            "builds_by_result": dict(self.scheduler.results_count),
            "event_to_start_seconds": list(self.scheduler.event_to_start),
            "build_durations": list(self.build_durations),
            "running_builds": len(self.scheduler.orders),
        }

    def is_running(self, build_uuid: str) -> bool:
        return build_uuid in self.scheduler.orders

    def config_errors(self) -> list[dict[str, Any]]:
        return list(self._config_errors)

    def job_info(self, name: str) -> dict[str, Any] | None:
        if self.config is None:
            return None
        configs, places = self.repo_configs.configs(self.config)
        return config_info.job_info(configs, name, places)

    def project_info(self, name: str) -> dict[str, Any] | None:
        if self.config is None:
            return None
        return config_info.project_info(self.repo_configs.configs(self.config)[0], name)

    def breaking_pipelines(self) -> list[str]:
        return config_info.breaking_pipelines(self.config) if self.config is not None else []

    def config_summary(self) -> dict[str, Any]:
        if self.config is None:
            return config_info.config_summary(None)
        return config_info.config_summary(self.repo_configs.configs(self.config)[0])


def check_pipelines(config: Config, connections: dict[str, Connection]) -> None:
    """Let each connection refuse the trigger filters and reporter options it does not understand
    (a driver's `check_pipeline(pipeline)`, when it has one); raises ConnectionConfigError."""
    for connection in connections.values():
        check = getattr(connection, "check_pipeline", None)
        if check is not None:
            for pipeline in config.pipelines.values():
                check(pipeline)
    for pipeline in config.pipelines.values():
        if pipeline.manager not in ("dependent", "serial"):
            continue
        for name in pipeline.triggers:
            connection = connections.get(name)
            if connection is not None and type(connection).merge is Connection.merge:
                raise ConnectionConfigError(
                    f"{pipeline.location}: pipeline '{pipeline.name}' is a {pipeline.manager} pipeline "
                    f"(it merges what passes) but connection '{name}' ({connection.driver}) cannot merge; "
                    "trigger it from a git, gerrit, github or gitlab connection"
                )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def serve(settings: ServerSettings) -> int:
    started = time.time()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        code = runner.run(Server(settings).run())
    log.debug("server ran for %.1fs", time.time() - started)
    return code


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (a dependency, except on Windows): the agents' many small
    requests cost the event loop about half what they cost on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
