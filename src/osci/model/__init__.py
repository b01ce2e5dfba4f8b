"""Plain domain types shared by every part of osci. Imports nothing of osci."""

from osci.model.build import Attempt, BuildRecord, Metric, PhaseRun
from osci.model.event import Event
from osci.model.job import FrozenJob, NodeRequest, Nodeset, SourceLocation, Step
from osci.model.report import BuildReport, FailedTest, Report
from osci.model.results import Result
from osci.model.tests import TestCase, TestStatus, TestSummary

__all__ = [
    "Attempt",
    "BuildRecord",
    "BuildReport",
    "Event",
    "FailedTest",
    "FrozenJob",
    "Metric",
    "NodeRequest",
    "Nodeset",
    "PhaseRun",
    "Report",
    "Result",
    "SourceLocation",
    "Step",
    "TestCase",
    "TestStatus",
    "TestSummary",
]
