"""Culprit finding after the fact, and staging-branch promotion, in the server.

* When a build of a job fails (FAILURE or TIMED_OUT) on a branch in a pipeline with
  ``culprit-finding`` on (a post-merge, periodic or manual item, never a proposed change), and
  the same job last passed in that pipeline on that branch at an ancestor commit, a search
  (``osci.analysis.culprit``) runs in the background over the commits between them.
* Each build of the search is an item of the same pipeline, entered by a ``culprit-search``
  event naming the pipeline, the commit and the only job to run (``only_jobs``): it is stored,
  shown by the dashboard and runs on the normal slots, but sends none of the pipeline's usual
  reports. The search, its verdict and its evidence are stored (``culprit_searches``,
  ``culprit_builds``) and reported through the pipeline's ``culprit`` reporters (the culprit
  as the report's author: an smtp reporter with ``author: true`` mails them).
* A pipeline with ``promote: {from: staging, to: main}`` promotes: when an item on the staging
  branch ends, the commits on staging since the target's tip are the batch. Green: the target
  is fast-forwarded to the tested commit (compare-and-swap). Red: each failing job's range is
  searched, the target is fast-forwarded to the commit before the earliest culprit, the
  culprit's author is told (``culprit`` reporters), and with ``cherry-pick-after-culprit`` the
  good commits after it are cherry-picked onto the new target tip and staging is reset to
  them (compare-and-swap), which tests them again as the next batch. A failure that does not
  reproduce (verdict flaky) promotes the tested commit; an inconclusive search promotes
  nothing. Each promotion is stored (``promotions``) and reported (``promoted`` reporters).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osci.analysis.culprit import (
    CULPRIT,
    ERROR,
    FAIL,
    FLAKY,
    PASS,
    CulpritResult,
    Probe,
    Settings,
    find_culprit,
)
from osci.merger import repos
from osci.model import Event, Report
from osci.scheduler.state import ItemState
from osci.server.records import StoreRecords

log = logging.getLogger("osci.culprits")

FAILED = ("FAILURE", "TIMED_OUT")
CULPRIT_EVENT = "culprit-search"


async def is_ancestor(repo: str, old: str, new: str) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "git", "-C", str(repo), "merge-base", "--is-ancestor", old, new,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await proc.wait() == 0


def outcome_of(result: str | None) -> str:
    if result == "SUCCESS":
        return PASS
    if result in FAILED:
        return FAIL
    return ERROR  # setup and infrastructure problems, aborts: neither a pass nor a failure


class ObservedRecords(StoreRecords):
    """The scheduler's records, telling the culprit service about finished builds and items."""

    def __init__(self, *args: Any, observer: CulpritService, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.observer = observer

    async def build_done(self, item, build, record, skipped, closing, reports) -> None:  # type: ignore[no-untyped-def]
        await super().build_done(item, build, record, skipped, closing, reports)
        self.observer.build_done(item, build, record, closing)

    async def item_closed(self, item, aborted, reports) -> None:  # type: ignore[no-untyped-def]
        await super().item_closed(item, aborted, reports)
        self.observer.item_closed(item)

    async def event_handled(self, event: Event, items: list[ItemState], outcome: str) -> None:
        await super().event_handled(event, items, outcome)
        if not items:
            self.observer.event_refused(event, outcome)


@dataclass
class _Waiter:
    job: str
    future: asyncio.Future


class CulpritService:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.waiters: dict[str, _Waiter] = {}  # culprit-search event uuid -> its build's outcome
        self.active: dict[str, dict[str, Any]] = {}  # running searches and promotions, for status
        self._running: set[tuple[str, str, str | None, str]] = set()  # (pipeline, project, branch, job)
        self._tasks: set[asyncio.Task] = set()

    # -- hooks (from the records, on the event loop) ------------------------------------
    def build_done(self, item: ItemState, build: Any, record: Any, closing: bool) -> None:
        if build is None:
            return
        result = str(record.result) if record is not None and record.result is not None else None
        if item.only_jobs is not None:
            waiter = self.waiters.get(item.event_uuid or "")
            if waiter is not None and waiter.job == build.job.name and not waiter.future.done():
                waiter.future.set_result((outcome_of(result), result, build.uuid, item.uuid))
            return
        pipeline = self._pipeline(item)
        if pipeline is None:
            return
        searching = pipeline.promote is None and pipeline.culprit_finding is not None
        # a branch's build (post-merge, periodic, manual), never a proposed change's
        if searching and result in FAILED and item.change is None and item.branch:
            self._spawn(self._maybe_search(item, build.job.name, result), f"culprit-{item.uuid}")
        if closing:
            self.item_closed(item)

    def event_refused(self, event: Event, outcome: str) -> None:
        """A search's build was not taken (its pipeline or project left the configuration, or the
        pipeline's requirements turned it away): an error for the search, never a wait forever."""
        waiter = self.waiters.get(event.uuid)
        if waiter is not None and not waiter.future.done():
            log.warning("culprit search: the build of %s at %s was not taken: %s", waiter.job, event.newrev, outcome)
            waiter.future.set_result((ERROR, None, None, None))

    def item_closed(self, item: ItemState) -> None:
        if item.only_jobs is not None:
            waiter = self.waiters.get(item.event_uuid or "")
            if waiter is not None and not waiter.future.done():
                waiter.future.set_result((ERROR, item.result, None, item.uuid))
            return
        pipeline = self._pipeline(item)
        if (
            pipeline is not None
            and pipeline.promote is not None
            and item.branch == pipeline.promote.from_branch
            and item.state == "completed"  # not dequeued or superseded
        ):
            self._spawn(self._promote(item, pipeline), f"promote-{item.uuid}")

    # -- helpers ----------------------------------------------------------------------------
    def _pipeline(self, item: ItemState) -> Any:
        config = self.server.config
        return config.pipelines.get(item.pipeline) if config is not None else None

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self.waiters.values():
            if not waiter.future.done():
                waiter.future.cancel()

    async def db(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.server.db(func, *args, **kwargs)

    def status(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.active.values()]

    def _repo(self, item: ItemState) -> str | None:
        return item.source or self.server.source_of(item.project)

    @staticmethod
    async def commit_range(repo: str, good: str, bad: str) -> list[str] | None:
        """[good, ..., bad] along bad's first parents, or None when good is not an ancestor."""
        if good == bad:
            return None
        if not await is_ancestor(repo, good, bad):
            return None
        listed = await repos.git(repo, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}")
        commits = [good, *listed.split()]
        return commits if len(commits) >= 2 and commits[-1] == bad else None

    @staticmethod
    async def commit_info(repo: str, rev: str) -> dict[str, str]:
        text = await repos.git(repo, "show", "-s", "--format=%an%x00%ae%x00%s", rev)
        name, email, subject = ([part.strip() for part in text.split("\x00")] + ["", "", ""])[:3]
        return {"author": name, "email": email, "subject": subject}

    # -- culprit searches -------------------------------------------------------------------
    async def _maybe_search(self, item: ItemState, job: str, result: str) -> None:
        pipeline = self._pipeline(item)
        bad = item.checkout or item.newrev
        repo = self._repo(item)
        if pipeline is None or not bad or repo is None or not item.branch:
            return
        key = (item.pipeline, item.project, item.branch, job)
        if key in self._running:
            return  # one search at a time per job and branch: a later failure is the same breakage
        good = await self.db(
            self.server.store.last_passing_rev,
            project=item.project,
            pipeline=item.pipeline,
            branch=item.branch,
            job=job,
        )
        if not good:
            log.info("culprit finding: %s failed at %s, but never passed on %s", job, bad[:12], item.branch)
            return
        commits = await self.commit_range(repo, good, bad)
        if commits is None:
            log.info("culprit finding: %s last passed at %s, not an ancestor of %s", job, good[:12], bad[:12])
            return
        trigger = "periodic" if item.connection == "timer" else "post-merge"
        await self.search(item, job, commits, trigger)

    async def search(
        self, item: ItemState, job: str, commits: list[str], trigger: str
    ) -> tuple[str, CulpritResult]:
        """Run one search to its verdict; store, report and return it."""
        pipeline = self._pipeline(item)
        found = pipeline.culprit_finding
        settings = Settings(
            max_parallel=found.max_parallel,
            confirm_failures=found.confirm_failures,
            confirm_passes=found.confirm_passes,
        )
        key = (item.pipeline, item.project, item.branch, job)
        self._running.add(key)
        search_id = await self.db(
            self.server.store.create_culprit_search,
            project=item.project,
            pipeline=item.pipeline,
            branch=item.branch,
            job=job,
            trigger=trigger,
            commits=commits,
            settings={
                "max-parallel": settings.max_parallel,
                "confirm-failures": settings.confirm_failures,
                "confirm-passes": settings.confirm_passes,
                "confidence": settings.confidence,
            },
        )
        self.active[search_id] = {
            "kind": "culprit-search",
            "id": search_id,
            "pipeline": item.pipeline,
            "project": item.project,
            "branch": item.branch,
            "job": job,
            "commits": len(commits) - 1,
            "builds": 0,
        }
        log.info(
            "culprit search %s: %s on %s %s, %d commits %s..%s",
            search_id, job, item.project, item.branch, len(commits) - 1, commits[0][:12], commits[-1][:12],
        )  # fmt: skip
        try:
            result = await find_culprit(
                commits, lambda probe: self._run_probe(item, job, search_id, probe), settings
            )
            culprit = None
            if result.verdict == CULPRIT and result.culprit:
                repo = self._repo(item)
                info = await self.commit_info(repo, result.culprit) if repo else {}
                culprit = {"commit": result.culprit, "parent": result.parent, **info}
            await self.db(
                self.server.store.finish_culprit_search,
                search_id,
                verdict=result.verdict,
                reason=result.reason,
                search_builds=result.search_builds,
                total_builds=result.total_builds,
                culprit=culprit,
            )
            log.info("culprit search %s: %s (%s)", search_id, result.verdict, result.reason)
            await self._report_search(item, job, search_id, result, culprit)
            return search_id, result
        finally:
            self._running.discard(key)
            self.active.pop(search_id, None)

    async def _run_probe(self, item: ItemState, job: str, search_id: str, probe: Probe) -> str:
        event = Event(
            connection=item.connection or "manual",
            type=CULPRIT_EVENT,
            project=item.project,
            branch=item.branch,
            ref=f"refs/heads/{item.branch}" if item.branch else item.ref,
            newrev=probe.commit,
            pipeline=item.pipeline,
            payload={"only_jobs": [job], "culprit_search": search_id, "purpose": probe.purpose},
        )
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiters[event.uuid] = _Waiter(job, future)
        row = await self.db(
            self.server.store.culprit_build_started,
            search_id,
            rev=probe.commit,
            position=probe.position,
            purpose=probe.purpose,
            round_=probe.round,
            item_uuid=None,
        )
        try:
            await self.server.submit_event(event)
            outcome, result, build_uuid, item_uuid = await future
        finally:
            self.waiters.pop(event.uuid, None)
        await self.db(
            self.server.store.culprit_build_done,
            row,
            outcome=outcome,
            result=result,
            build_uuid=build_uuid,
            item_uuid=item_uuid,
        )
        if search_id in self.active:
            self.active[search_id]["builds"] += 1
        return outcome

    async def _send(self, pipeline: Any, slot: str, report: Report) -> None:
        reporters = pipeline.reporters.get(slot) or {}
        for connection, options in reporters.items():
            payload = report.to_dict()
            payload["_options"] = dict(options or {})
            await self.db(self.server.store.queue_report, connection, slot, payload)
        if reporters and self.server.outbox is not None:
            self.server.outbox.wake()

    async def _report_search(
        self, item: ItemState, job: str, search_id: str, result: CulpritResult, culprit: dict[str, Any] | None
    ) -> None:
        pipeline = self._pipeline(item)
        if pipeline is None:
            return
        commits = result.commits
        lines = [
            f"Culprit search for job {job} on {item.project} {item.branch}: {result.verdict}.",
            f"Range: {len(commits) - 1} commit(s) after {commits[0][:12]} up to {commits[-1][:12]}.",
            f"Reason: {result.reason}.",
        ]
        author = None
        if culprit:
            author = (
                f"{culprit['author']} <{culprit['email']}>" if culprit.get("email") else culprit.get("author")
            )
            lines.insert(
                1,
                f"Culprit: {culprit['commit']} by {culprit['author']} <{culprit['email']}>: {culprit['subject']}",
            )
        elif result.verdict == FLAKY:
            lines.append("The failure did not reproduce: nobody is blamed.")
        lines.append(
            f"Builds: {result.search_builds} to search, {result.confirm_builds} to confirm, "
            f"{result.total_builds} in all; evidence: {self.server.settings.public_url()}/api/culprit/{search_id}"
        )
        for e in result.evidence:
            lines.append(f"  round {e.round} {e.purpose:9} {e.commit[:12]} {e.outcome}")
        report = Report(
            slot="culprit",
            pipeline=item.pipeline,
            project=item.project,
            branch=item.branch,
            ref=f"refs/heads/{item.branch}" if item.branch else item.ref,
            newrev=culprit["commit"] if culprit else commits[-1],
            change=None,
            patchset=None,
            author=author,
            item_uuid=search_id,
            buildset_uuid=None,
            result=result.verdict.upper(),
            status_url=f"{self.server.settings.public_url()}/api/culprit/{search_id}",
            message="\n".join(lines),
        )
        await self._send(pipeline, "culprit", report)

    # -- promotion --------------------------------------------------------------------------
    async def promote_by_hand(self, pipeline_name: str | None, project: str | None) -> dict[str, Any]:
        """`osci promote`: test the staging branch's tip in the promote pipeline now."""
        config = self.server.config
        promoting = [p for p in config.pipelines.values() if p.promote is not None]
        if pipeline_name is not None:
            promoting = [p for p in promoting if p.name == pipeline_name]
            if not promoting:
                raise ValueError(f"pipeline {pipeline_name!r} does not promote (no 'promote' setting)")
        if not promoting:
            raise ValueError("no pipeline promotes (no pipeline has a 'promote' setting)")
        if len(promoting) > 1:
            raise ValueError("several pipelines promote; name one: " + ", ".join(p.name for p in promoting))
        pipeline = promoting[0]
        if project is None:
            projects = [name for name, _ in self.server.projects()]
            if len(projects) != 1:
                raise ValueError("name a project: " + ", ".join(projects))
            project = projects[0]
        return await self.server.enqueue(project, pipeline.name, pipeline.promote.from_branch, None, None)

    async def _promote(self, item: ItemState, pipeline: Any) -> None:
        promote = pipeline.promote
        repo = self.server.source_of(item.project)
        tip = item.checkout or item.newrev
        if repo is None or not tip:
            return
        base = await repos.resolve(repo, f"refs/heads/{promote.to_branch}")
        if base == tip:
            return
        commits = await self.commit_range(repo, base, tip) if base else None
        promotion = await self.db(
            self.server.store.create_promotion,
            pipeline=pipeline.name,
            project=item.project,
            from_branch=promote.from_branch,
            to_branch=promote.to_branch,
            base_rev=base or None,
            tip_rev=tip,
            commits=(commits or [])[1:],
        )
        entry = {
            "kind": "promotion",
            "id": promotion,
            "pipeline": pipeline.name,
            "project": item.project,
            "from": promote.from_branch,
            "to": promote.to_branch,
            "phase": "testing",
        }
        self.active[promotion] = entry
        try:
            await self._promote_batch(item, pipeline, promotion, entry, repo, base, tip, commits)
        except Exception as exc:
            log.exception("promotion %s failed", promotion)
            await self._end_promotion(item, pipeline, promotion, "error", None, f"error: {exc}")
        finally:
            self.active.pop(promotion, None)

    async def _promote_batch(
        self,
        item: ItemState,
        pipeline: Any,
        promotion: str,
        entry: dict[str, Any],
        repo: str,
        base: str,
        tip: str,
        commits: list[str] | None,
    ) -> None:
        promote = pipeline.promote
        if commits is None:
            await self._end_promotion(
                item, pipeline, promotion, "error", None,
                f"{promote.from_branch} ({tip[:12]}) is not a fast-forward of {promote.to_branch} ({(base or '')[:12]})",
            )  # fmt: skip
            return
        if item.result == "SUCCESS":
            moved = await self.fast_forward(repo, promote.to_branch, base, tip)
            await self._end_promotion(
                item, pipeline, promotion, "promoted" if moved else "error", tip if moved else None,
                f"{len(commits) - 1} commit(s) promoted" if moved else f"{promote.to_branch} moved meanwhile",
            )  # fmt: skip
            return
        failing = [
            name
            for name, build in item.builds.items()
            if build.job.voting and build.result is not None and str(build.result) in FAILED
        ]
        if not failing:
            await self._end_promotion(
                item, pipeline, promotion, "error", None, f"the batch ended {item.result}: nothing promoted"
            )
            return
        entry["phase"] = "bisecting"
        await self.db(self.server.store.update_promotion, promotion, phase="bisecting")
        searches = await asyncio.gather(*(self.search(item, job, commits, "promote") for job in failing))
        verdicts = [result for _, result in searches]
        await self.db(self.server.store.update_promotion, promotion, culprit_search=searches[0][0])
        if any(v.verdict not in (CULPRIT, FLAKY) for v in verdicts):
            await self._end_promotion(
                item, pipeline, promotion, "rejected", None,
                "a culprit search was inconclusive: nothing promoted",
            )  # fmt: skip
            return
        culprits = [v for v in verdicts if v.verdict == CULPRIT and v.position is not None]
        if not culprits:  # every failure was a flake: the batch is good
            moved = await self.fast_forward(repo, promote.to_branch, base, tip)
            await self._end_promotion(
                item, pipeline, promotion, "promoted" if moved else "error", tip if moved else None,
                "the failure did not reproduce (flaky): promoted" if moved else f"{promote.to_branch} moved meanwhile",
            )  # fmt: skip
            return
        first = min(culprits, key=lambda v: v.position or 0)
        position = first.position or 0
        good = commits[position - 1]
        message = f"culprit {commits[position][:12]}"
        target = None
        if good != base:
            if await self.fast_forward(repo, promote.to_branch, base, good):
                target = good
                message += f"; {promote.to_branch} fast-forwarded to {good[:12]} ({position - 1} commit(s))"
            else:
                message += f"; {promote.to_branch} moved meanwhile, not promoted"
        else:
            message += "; it is the batch's first commit: nothing promoted"
        after = commits[position + 1 :]
        if promote.cherry_pick_after_culprit and after:
            entry["phase"] = "cherry-picking"
            onto = target or base
            candidate, why = await self.cherry_pick(repo, onto, after)
            if candidate and await self.move_branch(repo, promote.from_branch, tip, candidate):
                message += (
                    f"; {len(after)} commit(s) after the culprit cherry-picked onto {onto[:12]} as "
                    f"{candidate[:12]}: {promote.from_branch} reset to it, to be tested again"
                )
                await self.db(self.server.store.update_promotion, promotion, candidate_rev=candidate)
            else:
                message += (
                    f"; the commits after the culprit were not cherry-picked ({why or 'staging moved'})"
                )
        await self._end_promotion(
            item, pipeline, promotion, "partial" if target else "rejected", target, message
        )

    async def _end_promotion(
        self, item: ItemState, pipeline: Any, promotion: str, result: str, promoted: str | None, message: str
    ) -> None:
        await self.db(
            self.server.store.update_promotion,
            promotion,
            state="completed",
            phase=None,
            result=result,
            promoted_rev=promoted,
            message=message,
        )
        log.info("promotion %s: %s (%s)", promotion, result, message)
        report = Report(
            slot="promoted",
            pipeline=pipeline.name,
            project=item.project,
            branch=pipeline.promote.to_branch,
            ref=f"refs/heads/{pipeline.promote.to_branch}",
            newrev=promoted,
            change=None,
            patchset=None,
            author=None,
            item_uuid=promotion,
            buildset_uuid=item.buildset_uuid,
            result=result.upper(),
            status_url=f"{self.server.settings.public_url()}/api/promotions",
            message=f"Promotion of {pipeline.promote.from_branch} onto {pipeline.promote.to_branch}: {result}. {message}",
        )
        await self._send(pipeline, "promoted", report)

    # -- git --------------------------------------------------------------------------------
    async def fast_forward(self, repo: str, branch: str, old: str, new: str) -> bool:
        """Move `branch` from `old` to its descendant `new`, only if it is still at `old`."""
        return await self.move_branch(repo, branch, old, new, fast_forward=True)

    @staticmethod
    async def move_branch(repo: str, branch: str, old: str, new: str, fast_forward: bool = False) -> bool:
        if fast_forward and not await is_ancestor(repo, old, new):
            return False
        if Path(repo).is_dir():
            # compare-and-swap in the repository the git connection serves
            try:
                await repos.git(repo, "update-ref", f"refs/heads/{branch}", new, old)
            except repos.GitError as exc:
                log.warning("cannot move %s from %s to %s: %s", branch, old[:12], new[:12], exc)
                return False
            return True
        log.warning("promotion needs the repository on this machine; %s is not", repo)
        return False

    @staticmethod
    async def cherry_pick(repo: str, onto: str, commits: list[str]) -> tuple[str | None, str]:
        """The commits cherry-picked onto `onto` (a new commit in `repo`), or why not."""
        with tempfile.TemporaryDirectory(prefix="osci-promote-") as work:
            identity = ("-c", "user.name=osci", "-c", "user.email=osci@localhost")
            try:
                await repos.git(work, "clone", "-q", "--no-checkout", str(Path(repo).resolve()), "c")
                work = str(Path(work) / "c")
                await repos.git(work, "checkout", "-q", "--detach", onto)
                for commit in commits:
                    await repos.git(
                        work, *identity, "cherry-pick", "--allow-empty", "--keep-redundant-commits", commit
                    )
                head = (await repos.git(work, "rev-parse", "HEAD")).strip()
                await repos.git(
                    work, "push", "-q", str(Path(repo).resolve()), f"{head}:refs/osci/promote/{head}"
                )
            except repos.GitError as exc:
                return None, f"cherry-pick failed: {str(exc)[:200]}"
        return head, ""
