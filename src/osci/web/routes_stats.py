"""History and statistics for the dashboard: jobs, projects, tests and trends."""

from __future__ import annotations

from fastapi import APIRouter

from osci.web.schemas import ErrorOut

router = APIRouter(
    prefix="/api",
    tags=["history"],
    responses={code: {"model": ErrorOut} for code in (400, 404, 422)},
)
