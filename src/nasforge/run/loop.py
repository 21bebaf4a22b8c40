"""`TrialLoop`: one run of an experiment: ask, submit, wait, tell, journal.

Its cost per proposal does not grow with the experiment: usage is kept as running totals,
duplicates are found in a dict and stored as a reference to the trial they reuse, and
writes are committed in batches (`Journal`).

Several trials may run at once (the executor's `workers`): the strategy is asked for a new
proposal whenever a worker is free, and told each result as it arrives. A proposal of an
arch that is already running waits for that trial's result instead of running twice.

Resuming is replay: the stored trials' asks and tells are fed, in the order they happened,
to a freshly made strategy with the same seed, which thereby reaches the state it had when
the run stopped. Finished trials are never evaluated again; trials that were running when
the process died are evaluated first, under their stored numbers.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from nasforge.arch import Arch
from nasforge.errors import StoreError
from nasforge.evaluate.result import Result, Status
from nasforge.run.budget import Usage
from nasforge.run.executor import Done, Executor, Job
from nasforge.run.journal import Journal
from nasforge.run.results import epochs_charged
from nasforge.run.storage import TrialRecord
from nasforge.strategy.base import Observation, Proposal, SearchExhausted

if TYPE_CHECKING:
    from nasforge.run.experiment import Experiment

TrialCallback = Callable[[TrialRecord, Usage], None]

MAX_CONSECUTIVE_DUPLICATES = 1000
"""Stop when a strategy proposes only already-evaluated archs this many times in a row."""


@dataclass(frozen=True)
class _CacheKey:
    arch: Arch
    budget: float | None


class TrialLoop:
    """The state of one run: trials, running totals, the duplicate cache, running jobs."""

    def __init__(
        self,
        experiment: Experiment,
        experiment_id: int,
        wall_before: float,
        executor: Executor,
        on_trial: TrialCallback | None = None,
    ) -> None:
        self.x = experiment
        self.executor = executor
        self.on_trial = on_trial
        self.journal = Journal(experiment.store, experiment_id)
        self.seq = experiment.store.next_seq(experiment_id)
        self.trials: list[TrialRecord] = []
        self.cache: dict[_CacheKey, TrialRecord] = {}
        self.running: dict[int, _CacheKey] = {}
        self.running_keys: dict[_CacheKey, int] = {}
        self.waiting: dict[int, list[TrialRecord]] = {}
        self.interrupted: deque[TrialRecord] = deque()
        self.queries = 0
        self.simulated_seconds = 0.0
        self.epochs = 0.0
        self.wall_before = wall_before
        self.started = time.monotonic()

    # -- resume ----------------------------------------------------------------------
    def replay(self, trials: list[TrialRecord]) -> None:
        """Bring the strategy to where it was after `trials` (as stored)."""
        events: list[tuple[int, bool, TrialRecord]] = [(t.created_seq, True, t) for t in trials]
        events += [(t.finished_seq, False, t) for t in trials if t.finished_seq is not None]
        events.sort(key=lambda event: event[0])
        for _, is_ask, trial in events:
            arch = Arch.parse(trial.arch)
            if is_ask:
                proposal = self._ask()
                if (
                    proposal is None
                    or proposal.arch != arch
                    or self._budget_of(proposal) != trial.budget
                ):
                    raise StoreError(
                        f"cannot resume {self.x.name!r}: the strategy now proposes something other "
                        f"than stored trial {trial.number}; was nasforge or its settings changed?"
                    )
            else:
                self._count(trial)
                self._remember(trial, arch)
                self.x.strategy.tell(_observation(trial, arch))
        self.trials = list(trials)
        self.interrupted.extend(t for t in trials if not t.finished)

    # -- the loop --------------------------------------------------------------------
    def search(self) -> None:
        """Run until the budget is spent (or the strategy has nothing left), then wait for
        every running trial."""
        duplicates_in_a_row = 0
        asking = True
        try:
            while True:
                while self.interrupted and self.executor.has_room():
                    trial = self.interrupted.popleft()
                    self._dispatch(trial, Arch.parse(trial.arch), stored=True)
                while asking and not self.interrupted and self.executor.has_room():
                    if not self._may_ask():
                        break
                    proposal = self._ask()
                    if proposal is None:
                        asking = False
                        break
                    trial = self._create(proposal)
                    submitted = self._dispatch(trial, proposal.arch, stored=False)
                    duplicates_in_a_row = 0 if submitted else duplicates_in_a_row + 1
                    if duplicates_in_a_row >= MAX_CONSECUTIVE_DUPLICATES:
                        asking = False
                    self.journal.flush_if_due()
                if not self.running:
                    return
                self.journal.flush()  # running trials are stored before they are waited for
                for done in self.executor.wait():
                    self._finish(done)
                self.journal.flush_if_due()
        finally:
            self.journal.flush()

    def _may_ask(self) -> bool:
        """False once the budget is spent, counting running trials as queries spent."""
        usage = self.usage()
        if self.x.budget.exhausted(usage):
            return False
        limit = self.x.budget.queries
        return limit is None or usage.queries + len(self.running) < limit

    def _create(self, proposal: Proposal) -> TrialRecord:
        trial = TrialRecord(
            number=len(self.trials),
            arch=str(proposal.arch),
            budget=self._budget_of(proposal),
            status=Status.RUNNING,
            created_seq=self._next_seq(),
        )
        self.trials.append(trial)
        return trial

    def _dispatch(self, trial: TrialRecord, arch: Arch, *, stored: bool) -> bool:
        """Reuse an earlier result, wait for a running twin, or submit; True if submitted."""
        key = self._key(arch, trial.budget)
        if self.x.deduplicate != "none":
            earlier = self.cache.get(key)
            if earlier is not None:
                self._finish_duplicate(trial, arch, earlier, stored=stored)
                return False
            twin = self.running_keys.get(key)
            if twin is not None:
                if not stored:
                    self.journal.created(trial)
                self.waiting.setdefault(twin, []).append(trial)
                return False
        if not stored:
            self.journal.created(trial)
        self.running[trial.number] = key
        self.running_keys.setdefault(key, trial.number)
        self.executor.submit(Job(trial.number, arch, trial.budget))
        return True

    def _finish(self, done: Done) -> None:
        key = self.running.pop(done.number)
        if self.running_keys.get(key) == done.number:
            del self.running_keys[key]
        trial = self.trials[done.number]
        arch = Arch.parse(trial.arch)
        finished = self._finished(trial, done.result)
        self.journal.finished(finished, done.result)
        self._settle(finished, arch)
        for twin in self.waiting.pop(done.number, []):
            self._finish_duplicate(twin, Arch.parse(twin.arch), finished, stored=True)

    def _finished(self, trial: TrialRecord, result: Result) -> TrialRecord:
        score, scores, violation = self.x.judge(result)
        return replace(
            trial,
            status=result.status,
            metrics=dict(result.metrics),
            score=score,
            cost=result.cost,
            error=result.error,
            finished_seq=self._next_seq(),
            info=dict(result.info),
            scores=scores,
            violation=violation,
        )

    def _finish_duplicate(
        self, trial: TrialRecord, arch: Arch, earlier: TrialRecord, *, stored: bool
    ) -> None:
        finished = replace(
            self._finished(trial, earlier.result()),
            info=dict(earlier.info),
            duplicate_of=earlier.number,
        )
        self.journal.duplicate(finished, stored=stored)
        self._settle(finished, arch)

    def _settle(self, finished: TrialRecord, arch: Arch) -> None:
        """Count, cache and tell a finished trial."""
        self.trials[finished.number] = finished
        self._count(finished)
        self._remember(finished, arch)
        self.x.strategy.tell(_observation(finished, arch))
        if self.on_trial is not None:
            self.on_trial(finished, self.usage())

    # -- helpers ---------------------------------------------------------------------
    def _ask(self) -> Proposal | None:
        try:
            return self.x.strategy.ask()
        except SearchExhausted:
            return None

    def _budget_of(self, proposal: Proposal) -> float | None:
        return proposal.budget if proposal.budget is not None else self.x.evaluator.default_budget

    def _key(self, arch: Arch, budget: float | None) -> _CacheKey:
        if self.x.deduplicate == "exact":
            return _CacheKey(arch, budget)
        return _CacheKey(self.x.space.canonical(arch), budget)

    def _remember(self, trial: TrialRecord, arch: Arch) -> None:
        if trial.evaluated:
            self.cache.setdefault(self._key(arch, trial.budget), trial)

    def _count(self, trial: TrialRecord) -> None:
        if trial.evaluated:
            self.queries += 1
            self.simulated_seconds += trial.cost
            self.epochs += epochs_charged(trial)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq - 1

    def usage(self) -> Usage:
        return Usage(
            queries=self.queries,
            simulated_seconds=self.simulated_seconds,
            wall_seconds=self.wall_before + time.monotonic() - self.started,
            epochs=self.epochs,
        )


def _observation(trial: TrialRecord, arch: Arch) -> Observation:
    return Observation(Proposal(arch, trial.budget), trial.score, trial.scores, trial.violation)
