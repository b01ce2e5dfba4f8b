"""Build results, as DESIGN.md's table defines them."""

from enum import StrEnum


class Result(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    ERROR = "ERROR"
    RETRY_LIMIT = "RETRY_LIMIT"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    SKIPPED = "SKIPPED"
    MERGE_CONFLICT = "MERGE_CONFLICT"

    @property
    def counts_against_change(self) -> bool:
        """True when this result means the change broke something."""
        return self in (Result.FAILURE, Result.TIMED_OUT, Result.MERGE_CONFLICT)

    @property
    def is_infrastructure(self) -> bool:
        """True for setup/infrastructure problems, never blamed on the change."""
        return self in (Result.ERROR, Result.RETRY_LIMIT)

    @property
    def succeeded(self) -> bool:
        return self is Result.SUCCESS
