"""The store: every query the server, the API and the CLI need, over one SQL database."""

from __future__ import annotations

from osci.store.builds import BuildQueries
from osci.store.culprits import CulpritQueries
from osci.store.nodes import NodeQueries
from osci.store.queue import QueueQueries
from osci.store.reports import ReportQueries
from osci.store.scheduling import EventQueries, SchedulingQueries
from osci.store.tokens import TokenQueries


class Store(
    QueueQueries,
    BuildQueries,
    ReportQueries,
    TokenQueries,
    NodeQueries,
    SchedulingQueries,
    EventQueries,
    CulpritQueries,
):
    """``Store(url)``: SQLite (a file path or ``sqlite:///path``) or PostgreSQL
    (``postgresql://user:password@host/db``). Call :meth:`migrate` once before use."""
