"""The `gerrit` connection driver: stream-events over SSH, reviews over REST or SSH."""

from osci.connections.gerrit.connection import GerritConnection

CONNECTION = GerritConnection

__all__ = ["CONNECTION", "GerritConnection"]
