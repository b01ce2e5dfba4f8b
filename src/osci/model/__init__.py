"""Plain domain types shared by every part of osci. Imports nothing of osci."""

from osci.model.build import Attempt, BuildRecord, Metric
from osci.model.job import FrozenJob, NodeRequest, Nodeset, SourceLocation, Step
from osci.model.results import Result
from osci.model.tests import TestCase, TestStatus, TestSummary

__all__ = [
    "Attempt",
    "BuildRecord",
    "FrozenJob",
    "Metric",
    "NodeRequest",
    "Nodeset",
    "Result",
    "SourceLocation",
    "Step",
    "TestCase",
    "TestStatus",
    "TestSummary",
]
