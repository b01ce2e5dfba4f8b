"""A buildset's job graph: which jobs may start, which must be skipped.

Pure logic over frozen jobs and results; the local runner and the server's
scheduler both drive it. It never runs anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from osci.model import FrozenJob, Result


class JobGraphError(ValueError):
    """The jobs cannot form a graph: an unknown dependency or a cycle."""


@dataclass
class JobGraph:
    jobs: dict[str, FrozenJob] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        jobs: Iterable[FrozenJob],
        resolve: Callable[[str], FrozenJob] | None = None,
    ) -> JobGraph:
        """Make a graph of `jobs`, pulling in their dependencies through `resolve` when given.

        Without `resolve`, a dependency on a job outside `jobs` is an error, as it is in a
        project pipeline where every dependency must run in the same buildset.
        """
        graph = cls()
        pending = list(jobs)
        while pending:
            job = pending.pop(0)
            if job.name in graph.jobs:
                continue
            graph.jobs[job.name] = job
            for dependency in job.dependencies:
                if dependency in graph.jobs or any(p.name == dependency for p in pending):
                    continue
                if resolve is None:
                    raise JobGraphError(f"job {job.name} depends on {dependency}, which does not run here")
                pending.append(resolve(dependency))
        graph._check_acyclic()
        return graph

    def _check_acyclic(self) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name) :] + [name]
                raise JobGraphError("cyclic job dependencies: " + " -> ".join(cycle))
            state[name] = 1
            for dependency in self.jobs[name].dependencies:
                if dependency not in self.jobs:
                    raise JobGraphError(f"job {name} depends on unknown job {dependency}")
                visit(dependency, path + [name])
            state[name] = 2

        for name in self.jobs:
            visit(name, [])

    def runnable(self, done: Mapping[str, Result], started: Iterable[str] = ()) -> list[str]:
        """Jobs not yet started whose dependencies all succeeded, in definition order."""
        busy = set(started) | set(done)
        return [
            name
            for name, job in self.jobs.items()
            if name not in busy and all(done.get(d) is Result.SUCCESS for d in job.dependencies)
        ]

    def to_skip(self, done: Mapping[str, Result]) -> dict[str, str]:
        """Jobs that can never run because a dependency ended otherwise than SUCCESS, with why."""
        skip: dict[str, str] = {}
        for name, job in self.jobs.items():
            if name in done:
                continue
            for dependency in job.dependencies:
                result = done.get(dependency)
                if result is not None and result is not Result.SUCCESS:
                    skip[name] = f"dependency {dependency} ended {result}"
                    break
        return skip
