"""Culprit searches (their evidence) and promotions: what ``osci.server.culprits`` records and
``GET /api/culprits``, ``/api/culprit/{id}`` and ``/api/promotions`` read."""

from __future__ import annotations

import uuid as uuidlib
from datetime import datetime
from typing import Any

from sqlalchemy import desc, select

from osci.store.base import StoreBase
from osci.store.errors import NotFound
from osci.store.models import Build, CulpritBuild, CulpritSearch, Promotion
from osci.store.types import utcnow


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def search_dict(row: CulpritSearch, builds: list[CulpritBuild] | None = None) -> dict[str, Any]:
    data = {
        "id": row.uuid,
        "project": row.project,
        "pipeline": row.pipeline,
        "branch": row.branch,
        "job": row.job,
        "trigger": row.trigger,
        "good": row.good_rev,
        "bad": row.bad_rev,
        "commits": len(row.commits or []) - 1,
        "state": row.state,
        "verdict": row.verdict,
        "reason": row.reason,
        "culprit": (
            {
                "commit": row.culprit_rev,
                "parent": row.culprit_parent,
                "author": row.culprit_author,
                "email": row.culprit_email,
                "subject": row.culprit_subject,
            }
            if row.culprit_rev
            else None
        ),
        "search_builds": row.search_builds,
        "total_builds": row.total_builds,
        "settings": row.settings,
        "created": _iso(row.created),
        "completed": _iso(row.completed),
    }
    if builds is not None:
        data["range"] = list(row.commits or [])
        data["evidence"] = [
            {
                "commit": b.rev,
                "position": b.position,
                "purpose": b.purpose,
                "round": b.round,
                "outcome": b.outcome,
                "result": b.result,
                "build": b.build_uuid,
                "item": b.item_uuid,
                "created": _iso(b.created),
                "completed": _iso(b.completed),
            }
            for b in builds
        ]
    return data


def promotion_dict(row: Promotion, search: CulpritSearch | None = None) -> dict[str, Any]:
    return {
        "id": row.uuid,
        "pipeline": row.pipeline,
        "project": row.project,
        "from": row.from_branch,
        "to": row.to_branch,
        "base": row.base_rev,
        "tip": row.tip_rev,
        "commits": list(row.commits or []),
        "state": row.state,
        "phase": row.phase,
        "result": row.result,
        "promoted": row.promoted_rev,
        "candidate": row.candidate_rev,
        "message": row.message,
        "culprit_search": search.uuid if search is not None else None,
        "created": _iso(row.created),
        "completed": _iso(row.completed),
    }


class CulpritQueries(StoreBase):
    # -- culprit searches -------------------------------------------------------------------
    def create_culprit_search(
        self,
        *,
        project: str,
        pipeline: str,
        branch: str | None,
        job: str,
        trigger: str,
        commits: list[str],
        settings: dict[str, Any],
    ) -> str:
        row = CulpritSearch(
            uuid=uuidlib.uuid4().hex,
            project=project,
            pipeline=pipeline,
            branch=branch,
            job=job,
            trigger=trigger,
            good_rev=commits[0],
            bad_rev=commits[-1],
            commits=list(commits),
            settings=dict(settings),
            state="running",
            search_builds=0,
            total_builds=0,
            created=utcnow(),
        )
        with self._write() as session:
            session.add(row)
        return row.uuid

    def _search(self, session: Any, uuid: str) -> CulpritSearch:
        row = session.scalars(select(CulpritSearch).where(CulpritSearch.uuid == uuid)).first()
        if row is None:
            raise NotFound(f"no culprit search {uuid}")
        return row

    def culprit_build_started(
        self, search: str, *, rev: str, position: int, purpose: str, round_: int, item_uuid: str | None
    ) -> int:
        with self._write() as session:
            row = self._search(session, search)
            build = CulpritBuild(
                search_id=row.id,
                rev=rev,
                position=position,
                purpose=purpose,
                round=round_,
                item_uuid=item_uuid,
                created=utcnow(),
            )
            session.add(build)
            session.flush()
            return build.id

    def culprit_build_done(
        self,
        build_id: int,
        *,
        outcome: str,
        result: str | None,
        build_uuid: str | None,
        item_uuid: str | None = None,
    ) -> None:
        with self._write() as session:
            build = session.get(CulpritBuild, build_id)
            if build is None:
                raise NotFound(f"no culprit build {build_id}")
            build.outcome, build.result, build.build_uuid = outcome, result, build_uuid
            build.item_uuid = item_uuid or build.item_uuid
            build.completed = utcnow()

    def finish_culprit_search(
        self,
        uuid: str,
        *,
        verdict: str,
        reason: str,
        search_builds: int,
        total_builds: int,
        culprit: dict[str, Any] | None = None,
    ) -> None:
        with self._write() as session:
            row = self._search(session, uuid)
            row.state = "completed"
            row.verdict, row.reason = verdict, reason[:4000]
            row.search_builds, row.total_builds = search_builds, total_builds
            if culprit:
                row.culprit_rev = culprit.get("commit")
                row.culprit_parent = culprit.get("parent")
                row.culprit_author = (culprit.get("author") or "")[:255] or None
                row.culprit_email = (culprit.get("email") or "")[:255] or None
                row.culprit_subject = culprit.get("subject")
            row.completed = utcnow()

    def interrupt_culprit_searches(self) -> int:
        """Searches left running by a stopped server end inconclusive (their tasks are gone)."""
        with self._write() as session:
            rows = session.scalars(select(CulpritSearch).where(CulpritSearch.state == "running")).all()
            for row in rows:
                row.state, row.verdict = "completed", "inconclusive"
                row.reason = "interrupted: the server stopped during the search"
                row.completed = utcnow()
            promotions = session.scalars(select(Promotion).where(Promotion.state == "running")).all()
            for promotion in promotions:
                promotion.state, promotion.result = "completed", "error"
                promotion.message = "interrupted: the server stopped during the promotion"
                promotion.completed = utcnow()
            return len(rows)

    def culprit_searches(
        self,
        *,
        project: str | None = None,
        job: str | None = None,
        verdict: str | None = None,
        state: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        query = select(CulpritSearch).order_by(desc(CulpritSearch.id)).limit(max(1, min(limit, 500)))
        for column, value in (
            (CulpritSearch.project, project),
            (CulpritSearch.job, job),
            (CulpritSearch.verdict, verdict),
            (CulpritSearch.state, state),
        ):
            if value is not None:
                query = query.where(column == value)
        with self._read() as session:
            return [search_dict(row) for row in session.scalars(query)]

    def culprit_search(self, uuid: str) -> dict[str, Any]:
        with self._read() as session:
            row = self._search(session, uuid)
            builds = session.scalars(
                select(CulpritBuild).where(CulpritBuild.search_id == row.id).order_by(CulpritBuild.id)
            ).all()
            return search_dict(row, list(builds))

    def last_passing_rev(self, *, project: str, pipeline: str, branch: str | None, job: str) -> str | None:
        """The commit of the latest successful build of a job on a branch in a pipeline."""
        query = (
            select(Build.newrev)
            .where(
                Build.project == project,
                Build.pipeline == pipeline,
                Build.job == job,
                Build.result == "SUCCESS",
                Build.newrev.is_not(None),
            )
            .order_by(desc(Build.id))
            .limit(1)
        )
        query = query.where(Build.branch == branch) if branch is not None else query
        with self._read() as session:
            return session.scalars(query).first()

    # -- promotions -------------------------------------------------------------------------
    def create_promotion(
        self,
        *,
        pipeline: str,
        project: str,
        from_branch: str,
        to_branch: str,
        base_rev: str | None,
        tip_rev: str | None,
        commits: list[str],
    ) -> str:
        row = Promotion(
            uuid=uuidlib.uuid4().hex,
            pipeline=pipeline,
            project=project,
            from_branch=from_branch,
            to_branch=to_branch,
            base_rev=base_rev,
            tip_rev=tip_rev,
            commits=list(commits),
            state="running",
            phase="testing",
            created=utcnow(),
        )
        with self._write() as session:
            session.add(row)
        return row.uuid

    def update_promotion(self, uuid: str, *, culprit_search: str | None = None, **fields: Any) -> None:
        with self._write() as session:
            row = session.scalars(select(Promotion).where(Promotion.uuid == uuid)).first()
            if row is None:
                raise NotFound(f"no promotion {uuid}")
            for key, value in fields.items():
                setattr(row, key, value)
            if culprit_search is not None:
                row.culprit_search_id = self._search(session, culprit_search).id
            if fields.get("state") == "completed":
                row.completed = utcnow()

    def promotions(
        self, *, project: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        query = select(Promotion).order_by(desc(Promotion.id)).limit(max(1, min(limit, 500)))
        if project is not None:
            query = query.where(Promotion.project == project)
        if state is not None:
            query = query.where(Promotion.state == state)
        with self._read() as session:
            rows = session.scalars(query).all()
            searches = {
                s.id: s
                for s in session.scalars(
                    select(CulpritSearch).where(
                        CulpritSearch.id.in_([r.culprit_search_id for r in rows if r.culprit_search_id])
                    )
                )
            }
            return [promotion_dict(r, searches.get(r.culprit_search_id)) for r in rows]
