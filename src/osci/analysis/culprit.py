"""Culprit finding: which commit of a range broke a job, aware of flaky builds.

Pure: no store, no git, no scheduler. The caller gives the range (oldest first, from the
last commit where the job passed to the first where it failed) and an async callback that
runs the job at one commit and answers ``pass``, ``fail`` or ``error`` (an infrastructure
or setup error: neither a pass nor a failure; the commit is tried again).

How the search goes (k = ``max_parallel`` builds per round):

* Nothing is taken on trust but the order of the commits. The failure that started the
  search is *not* counted as evidence (it was chosen because it failed), and the last good
  commit is only *assumed* good until it is tested.
* Each commit has a tally of passes and failures; it *leans* bad when it failed more often
  than it passed, good when it passed more often. The bad boundary ``hi`` is the lowest
  commit that leans bad (the bad end, untested, at the start), the good boundary ``lo`` the
  highest commit below it that leans good (the good end when none does).
* A round first re-runs what is in doubt -- the bad end while the failure has not been
  reproduced ("reproduce"), and both sides of a disagreement, a commit above ``hi`` that
  leans good ("retest") -- then fills the free slots with commits that split (lo, hi) into
  equal parts ("search": a k-ary search, bisection when k = 1).
* When ``lo`` and ``hi`` are adjacent, ``hi`` is the candidate. It is *confirmed* only when
  it failed at least ``confirm_failures`` times, its parent ``lo`` passed at least
  ``confirm_passes`` times, and the posterior (see :class:`_Posterior`: every result so far,
  a flake rate learnt from them) says with ``confidence`` (0.995) that the job is broken at
  ``hi`` and works at ``lo`` ("confirm" builds). Results that go the other way move the
  boundaries and the search goes on, so one flaky result cannot blame anyone.
* Verdicts: ``culprit`` (confirmed), ``flaky`` (no commit leans bad, the bad end passed
  ``confirm_passes`` times and "nobody broke it" has the posterior ``confidence``: the
  failure does not reproduce, nobody is blamed), ``inconclusive`` (the last good commit fails
  too: the cause is outside the range; a commit kept erroring ``max_errors`` times; or the
  build budget ran out while results kept contradicting each other).

Cost without flakes, k = 1: one build to reproduce plus ceil(log2 n) bisection builds for n
commits after the good one -- ceil(log2 n) + 1 "search" builds -- then the confirmation
builds (about confirm_failures - 1 + confirm_passes - 1). :attr:`CulpritResult.search_builds`
and :attr:`CulpritResult.confirm_builds` count the two apart; ``bench/culprit.py`` prints both.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

PASS = "pass"
FAIL = "fail"
ERROR = "error"
OUTCOMES = (PASS, FAIL, ERROR)

CULPRIT = "culprit"
FLAKY = "flaky"
INCONCLUSIVE = "inconclusive"

# Purposes of a build, in the evidence.
REPRODUCE = "reproduce"
SEARCH = "search"
RETEST = "retest"
CONFIRM = "confirm"
SEARCH_PURPOSES = (REPRODUCE, SEARCH, RETEST)

FLAKE_GRID = (0.01, 0.05, 0.1, 0.2, 0.3)
OUTSIDE_PRIOR = 0.02  # prior probability that the job already fails at the last good commit


@dataclass(frozen=True)
class Settings:
    max_parallel: int = 4
    confirm_failures: int = 3
    confirm_passes: int = 3
    confidence: float = 0.995  # posterior probability a confirmed commit must reach (see _Posterior)
    prior_flaky: float = 0.5  # prior probability that the failure was a flake (no culprit at all)
    flake_rates: tuple[float, ...] = FLAKE_GRID  # flake rates the posterior weighs, equally a priori
    max_errors: int = 3  # errors at one commit before it is left out of the search
    max_builds: int | None = None  # None: budget_for(n)

    def __post_init__(self) -> None:
        for name in ("max_parallel", "confirm_failures", "confirm_passes", "max_errors"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0.5 < self.confidence < 1:
            raise ValueError("confidence must be between 0.5 and 1")
        if not 0 < self.prior_flaky < 1:
            raise ValueError("prior_flaky must be between 0 and 1")
        if not self.flake_rates or not all(0 < f < 0.5 for f in self.flake_rates):
            raise ValueError("flake_rates must be between 0 and 0.5")

    def budget_for(self, n: int) -> int:
        if self.max_builds is not None:
            return self.max_builds
        log2n = math.ceil(math.log2(max(n, 2)))
        return 12 * (log2n + 1) * self.max_parallel + 16 * (self.confirm_failures + self.confirm_passes) + 40


@dataclass(frozen=True)
class Probe:
    """One build the search asks for."""

    commit: str
    position: int  # index in the range (0 = the last good commit)
    purpose: str  # reproduce, search, retest, confirm
    round: int


@dataclass(frozen=True)
class Evidence:
    commit: str
    position: int
    purpose: str
    round: int
    outcome: str  # pass, fail, error

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CulpritResult:
    verdict: str  # culprit, flaky, inconclusive
    reason: str
    commits: list[str]
    culprit: str | None = None
    position: int | None = None
    parent: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    rounds: int = 0

    @property
    def total_builds(self) -> int:
        return len(self.evidence)

    @property
    def search_builds(self) -> int:
        return sum(1 for e in self.evidence if e.purpose in SEARCH_PURPOSES)

    @property
    def confirm_builds(self) -> int:
        return sum(1 for e in self.evidence if e.purpose == CONFIRM)

    def tally(self, position: int) -> tuple[int, int, int]:
        """(passes, failures, errors) at one position."""
        outcomes = [e.outcome for e in self.evidence if e.position == position]
        return outcomes.count(PASS), outcomes.count(FAIL), outcomes.count(ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "culprit": self.culprit,
            "position": self.position,
            "parent": self.parent,
            "rounds": self.rounds,
            "search_builds": self.search_builds,
            "confirm_builds": self.confirm_builds,
            "total_builds": self.total_builds,
            "evidence": [e.to_dict() for e in self.evidence],
        }


RunJob = Callable[[Probe], Awaitable[str]]


class _Search:
    def __init__(self, commits: Sequence[str], settings: Settings) -> None:
        self.commits = list(commits)
        self.n = len(self.commits) - 1
        self.s = settings
        self.passes = [0] * (self.n + 1)
        self.fails = [0] * (self.n + 1)
        self.errors = [0] * (self.n + 1)
        self.evidence: list[Evidence] = []
        self.observed: list[int] = []  # positions with a pass or a failure, sorted
        self._posterior: _Posterior | None = None

    # -- tallies --------------------------------------------------------------------------
    def d(self, pos: int) -> int:
        return self.fails[pos] - self.passes[pos]

    def posterior(self) -> _Posterior:
        if self._posterior is None or self._posterior.size != len(self.evidence):
            self._posterior = _Posterior(self)
        return self._posterior

    def confident_bad(self, pos: int) -> bool:
        """Failed confirm_failures times, and broken with the configured confidence."""
        if self.fails[pos] < self.s.confirm_failures:
            return False
        return self.posterior().broken_at(pos) >= self.s.confidence

    def confident_good(self, pos: int) -> bool:
        """Passed confirm_passes times, and not broken with the configured confidence."""
        if self.passes[pos] < self.s.confirm_passes:
            return False
        return 1 - self.posterior().broken_at(pos) >= self.s.confidence

    def excluded(self, pos: int) -> bool:
        return self.errors[pos] >= self.s.max_errors and self.passes[pos] + self.fails[pos] == 0

    def record(self, probe: Probe, outcome: str) -> None:
        if outcome not in OUTCOMES:
            outcome = ERROR
        if outcome != ERROR and not (self.passes[probe.position] or self.fails[probe.position]):
            bisect.insort(self.observed, probe.position)
        if outcome == PASS:
            self.passes[probe.position] += 1
        elif outcome == FAIL:
            self.fails[probe.position] += 1
        else:
            self.errors[probe.position] += 1
        self.evidence.append(Evidence(probe.commit, probe.position, probe.purpose, probe.round, outcome))

    # -- one step -------------------------------------------------------------------------
    def plan(self, round_: int) -> list[Probe] | CulpritResult:
        """The next round's probes, or the verdict."""
        k = self.s.max_parallel
        n = self.n
        bad = [p for p in range(n + 1) if self.d(p) > 0]
        probes: list[tuple[int, str]] = []

        def add(pos: int, purpose: str, times: int = 1) -> None:
            for _ in range(times):
                if len(probes) < k:
                    probes.append((pos, purpose))

        if not bad:
            # Nothing fails (yet): reproduce the failure at the bad end.
            if self.confident_good(n):
                return self.result(FLAKY, f"the failure at {short(self.commits[n])} did not reproduce")
            if self.excluded(n):
                return self.result(INCONCLUSIVE, f"builds at {short(self.commits[n])} kept erroring")
            hi = n
            add(n, REPRODUCE, 1 if self.passes[n] == 0 else self._needed_good(n))
        else:
            hi = bad[0]
        if hi == 0:
            if self.confident_bad(0):
                return self.result(
                    INCONCLUSIVE,
                    f"the job fails at the last good commit {short(self.commits[0])} too: "
                    "the cause is outside the range",
                )
            if self.excluded(0):
                return self.result(INCONCLUSIVE, f"builds at {short(self.commits[0])} kept erroring")
            add(0, RETEST, self._needed_bad(0))
            return self._probes(probes, round_)
        lo = max((p for p in range(hi) if self.d(p) < 0), default=0)

        # Disagreement: a commit above hi that leans good.
        above = [p for p in range(hi + 1, n + 1) if self.d(p) < 0 and not self.confident_good(p)]
        if bad and above and not self.confident_bad(hi):
            add(hi, RETEST)
            add(above[0], RETEST)

        # Commits between lo and hi that erred too often are skipped.
        inside = [p for p in range(lo + 1, hi) if not self.excluded(p)]
        if not inside:
            if self.excluded(hi) or self.excluded(lo):
                return self.result(
                    INCONCLUSIVE,
                    f"builds kept erroring around {short(self.commits[hi])}: "
                    f"the culprit is one of {short(self.commits[lo])}..{short(self.commits[hi])}",
                )
            if hi - lo > 1:
                return self.result(
                    INCONCLUSIVE,
                    f"builds kept erroring between {short(self.commits[lo])} and {short(self.commits[hi])}: "
                    f"the culprit is one of the commits after {short(self.commits[lo])} up to "
                    f"{short(self.commits[hi])}",
                )
            # Adjacent: confirm hi fails and lo passes, repeatedly.
            need_bad = 0 if self.confident_bad(hi) else self._needed_bad(hi)
            need_good = 0 if self.confident_good(lo) else self._needed_good(lo)
            if bad and not need_bad and not need_good:
                return self.result(CULPRIT, "confirmed", culprit=hi)
            while len(probes) < k and (need_bad or need_good):
                if need_bad:
                    add(hi, CONFIRM if bad else REPRODUCE)
                    need_bad -= 1
                if need_good:
                    add(lo, CONFIRM)
                    need_good -= 1
            return self._probes(probes, round_)
        # k-ary search: split (lo, hi) into equal parts with the free slots.
        free = k - len(probes)
        if free > 0:
            for pos in self._splits(lo, hi, inside, free):
                add(pos, SEARCH)
        return self._probes(probes, round_)

    def _needed_bad(self, pos: int) -> int:
        return max(1, self.s.confirm_failures - self.fails[pos])

    def _needed_good(self, pos: int) -> int:
        return max(1, self.s.confirm_passes - self.passes[pos])

    @staticmethod
    def _splits(lo: int, hi: int, inside: list[int], count: int) -> list[int]:
        length = hi - lo
        if len(inside) <= count:
            return inside
        chosen: list[int] = []
        for j in range(1, count + 1):
            target = lo + (length * j) // (count + 1)
            # the nearest usable commit to the even split
            pos = min(inside, key=lambda p, t=target: (abs(p - t), p))
            if pos not in chosen:
                chosen.append(pos)
        return chosen

    def _probes(self, probes: list[tuple[int, str]], round_: int) -> list[Probe]:
        return [Probe(self.commits[pos], pos, purpose, round_) for pos, purpose in probes]

    def result(self, verdict: str, reason: str, culprit: int | None = None) -> CulpritResult:
        result = CulpritResult(verdict, reason, self.commits, evidence=list(self.evidence))
        if culprit is not None:
            result.culprit = self.commits[culprit]
            result.position = culprit
            result.parent = self.commits[culprit - 1]
            p, f = self.passes, self.fails
            result.reason = (
                f"{short(result.culprit)} failed {f[culprit]} of {f[culprit] + p[culprit]} builds, "
                f"its parent {short(result.parent)} passed {p[culprit - 1]} of "
                f"{f[culprit - 1] + p[culprit - 1]}"
            )
        return result


class _Posterior:
    """The posterior over where the job broke, given every pass and failure so far.

    Hypotheses: "none" (every commit is good; the failure was a flake; prior
    ``prior_flaky``), "outside" (the job already fails at the last good commit, position 0;
    prior OUTSIDE_PRIOR) and "the culprit is c" for c = 1..n (the rest, uniformly). Under a
    hypothesis each build is independent: a good commit fails with probability f, a broken one
    passes with probability f, for f in ``flake_rates`` (equally likely a priori: flakiness is
    learnt from the evidence, so consistent results confirm quickly and contradicting ones ask
    for more). The likelihood of "the culprit is c" only changes at observed positions, so
    hypotheses are grouped in segments between them: O(observed x rates) per update."""

    def __init__(self, search: _Search) -> None:
        self.size = len(search.evidence)
        s = search.s
        n = search.n
        per_commit = (1 - s.prior_flaky - OUTSIDE_PRIOR) / n
        zero_observed = bool(search.observed) and search.observed[0] == 0
        cuts = [p for p in search.observed if p >= 1]
        # Segment j holds the culprits c in (cuts[j-1], cuts[j]] (1 and n at the ends): the
        # observed positions below them are 0 (when observed) and cuts[:j].
        self.bounds: list[tuple[int, int]] = []
        start = 1
        for cut in [*cuts, n]:
            self.bounds.append((start, cut))
            start = cut + 1
        weights: list[list[float]] = [[] for _ in range(len(self.bounds) + 2)]
        lp = -math.log(len(s.flake_rates))
        for f in s.flake_rates:
            lf, lg = math.log(f), math.log(1 - f)

            def good(p: int, lf: float = lf, lg: float = lg) -> float:
                return search.fails[p] * lf + search.passes[p] * lg

            def bad(p: int, lf: float = lf, lg: float = lg) -> float:
                return search.fails[p] * lg + search.passes[p] * lf

            all_bad = sum(bad(p) for p in search.observed)
            loglik = all_bad + (good(0) - bad(0) if zero_observed else 0.0)
            for index, (first, last) in enumerate(self.bounds):
                if index > 0:
                    loglik += good(cuts[index - 1]) - bad(cuts[index - 1])
                if last >= first:
                    weights[index].append(lp + math.log(per_commit * (last - first + 1)) + loglik)
            weights[-2].append(lp + math.log(OUTSIDE_PRIOR) + all_bad)
            weights[-1].append(lp + math.log(s.prior_flaky) + sum(good(p) for p in search.observed))
        logs = [_logsumexp(w) if w else -math.inf for w in weights]
        total = _logsumexp([x for x in logs if x > -math.inf])
        self.mass = [math.exp(x - total) if x > -math.inf else 0.0 for x in logs[:-2]]
        self.outside = math.exp(logs[-2] - total)
        self.none = math.exp(logs[-1] - total)

    def broken_at(self, pos: int) -> float:
        """P(the job is broken at position pos): the culprit is at or before it."""
        mass = self.outside
        for (first, last), m in zip(self.bounds, self.mass, strict=True):
            if last < first or first > pos:
                continue
            if last <= pos:
                mass += m
            else:
                mass += m * (pos - first + 1) / (last - first + 1)
        return mass


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def short(rev: str) -> str:
    return rev[:12]


async def _run_one(run: RunJob, probe: Probe) -> str:
    try:
        outcome = await run(probe)
    except asyncio.CancelledError:
        raise
    except Exception:  # a broken callback is an infrastructure error, never a verdict
        log.exception("culprit search: running %s at %s failed", probe.purpose, probe.commit)
        return ERROR
    return outcome if outcome in OUTCOMES else ERROR


async def find_culprit(
    commits: Sequence[str],
    run: RunJob,
    settings: Settings | None = None,
    on_round: Callable[[list[Evidence]], Awaitable[None]] | None = None,
) -> CulpritResult:
    """Search ``commits`` (last good first, first bad last) for the commit that broke the job.

    ``run(probe)`` runs the job at ``probe.commit`` and answers ``pass``, ``fail`` or ``error``;
    up to ``settings.max_parallel`` run at once. ``on_round`` is awaited with each round's
    evidence (to store it as it comes)."""
    settings = settings or Settings()
    if len(commits) < 2:
        raise ValueError("a culprit search needs the last good and the first bad commit")
    search = _Search(commits, settings)
    budget = settings.budget_for(search.n)
    round_ = 0
    while True:
        planned = search.plan(round_ + 1)
        if isinstance(planned, CulpritResult):
            planned.rounds = round_
            return planned
        if len(search.evidence) + len(planned) > budget:
            result = search.result(
                INCONCLUSIVE, f"no verdict within {budget} builds (results keep contradicting each other)"
            )
            result.rounds = round_
            return result
        round_ += 1
        outcomes = await asyncio.gather(*(_run_one(run, probe) for probe in planned))
        before = len(search.evidence)
        for probe, outcome in zip(planned, outcomes, strict=True):
            search.record(probe, outcome)
        if on_round is not None:
            await on_round(search.evidence[before:])
