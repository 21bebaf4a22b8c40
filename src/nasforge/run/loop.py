"""`TrialLoop`: one run of an experiment: ask, submit, wait, tell, journal.

Its cost per proposal does not grow with the experiment: usage is kept as running totals,
duplicates are found in a dict and stored as a reference to the trial they reuse, and
writes are committed in batches (`Journal`).

Several trials may run at once (the executor's `workers`). By default (`ordered`) the
strategy is told results in the order their trials were submitted, and a new proposal is
asked for only when fewer than `workers` trials are submitted and not yet told: a result
that arrives early is held until the trials before it are told, and its worker stays idle
meanwhile. What the strategy sees, and so every proposal, then depends on the results only,
never on which evaluation finished first: the same seed repeats the same trials with any
number of workers. Unordered, each result is told as it arrives and a free worker gets a
new proposal at once (faster; the trials then depend on timing). A proposal of an arch that
is already running waits for that trial's result instead of running twice.

Resuming is replay: the stored trials' asks and tells are fed, in the order they happened,
to a freshly made strategy with the same seed, which thereby reaches the state it had when
the run stopped. Finished trials are never evaluated again; trials that were running when
the process died are evaluated first, under their stored numbers.

Several processes may run one experiment at once (`shared`): each has its own strategy,
takes trial and sequence numbers from the store in the transaction that writes the trial,
and before each ask reads what the others wrote since it last looked: their finished trials
are told to its strategy and counted against the budget, and an arch one of them is running
is not evaluated again. A process that is running alone switches to this mode as soon as
another one joins. An experiment that was ever shared resumes by telling its strategy every
finished trial (its asks came from several strategies and cannot be replayed).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from nasforge.arch import Arch
from nasforge.errors import StoreError
from nasforge.evaluate.result import Result
from nasforge.run.budget import Usage
from nasforge.run.executor import Done, Executor, Job
from nasforge.run.journal import Journal
from nasforge.run.results import epochs_charged
from nasforge.run.signals import StopSignals
from nasforge.run.storage import TrialRecord
from nasforge.status import Status
from nasforge.strategy.base import Observation, Proposal, SearchExhausted, WaitForResults

if TYPE_CHECKING:
    from nasforge.run.experiment import Experiment

TrialCallback = Callable[[TrialRecord, Usage], None]

MAX_CONSECUTIVE_DUPLICATES = 1000
"""Stop when a strategy proposes only already-evaluated archs this many times in a row."""
JOIN_CHECK_SECONDS = 0.5
"""How often a process running alone looks for another one joining its experiment."""
POLL_SECONDS = 0.1
"""How often a shared run with nothing of its own running looks for the others' results."""


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
        *,
        run_id: int | None = None,
        shared: bool = False,
    ) -> None:
        self.x = experiment
        self.store = experiment.store
        self.id = experiment_id
        self.executor = executor
        self.on_trial = on_trial
        self.run_id = run_id
        self.shared = shared
        self.journal = Journal(experiment.store, experiment_id)
        self.seq = experiment.store.next_seq(experiment_id)
        self.watermark = self.seq
        """The first sequence number not yet read back from the store (shared runs)."""
        self.next_number = 0
        self.trials: dict[int, TrialRecord] = {}
        self.foreign_running: dict[int, _CacheKey] = {}
        self.last_join_check = time.monotonic()
        self.cache: dict[_CacheKey, TrialRecord] = {}
        self.running: dict[int, _CacheKey] = {}
        self.running_keys: dict[_CacheKey, int] = {}
        self.waiting: dict[int, list[TrialRecord]] = {}
        self.held: dict[int, Done] = {}
        """Results that arrived before those of earlier trials (ordered runs)."""
        self.ordered = experiment.ordered
        self.asking = True
        self.duplicates_in_a_row = 0
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
                try:
                    proposal = self._ask()
                except WaitForResults:
                    proposal = None
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
        self.trials = {t.number: t for t in trials}
        self.next_number = len(trials)
        self.interrupted.extend(t for t in trials if not t.finished)

    def catch_up(self, trials: list[TrialRecord], live_runs: set[int]) -> None:
        """Resume a shared experiment: tell the strategy every finished trial, in the order
        they finished; re-evaluate the unfinished ones of runs that died, and leave those of
        live runs to them."""
        for trial in sorted((t for t in trials if t.finished), key=lambda t: t.finished_seq or 0):
            arch = Arch.parse(trial.arch)
            self._count(trial)
            self._remember(trial, arch)
            self.x.strategy.tell(_observation(trial, arch))
        self.trials = {t.number: t for t in trials}
        self.next_number = max(self.trials, default=-1) + 1
        for trial in trials:
            if trial.finished:
                continue
            if trial.run_id in live_runs:
                self._track_foreign(trial)
            else:
                self.interrupted.append(trial)

    # -- the loop --------------------------------------------------------------------
    def search(self, stop: StopSignals | None = None) -> None:
        """Run until the budget is spent (or the strategy has nothing left), then wait for
        every running trial. With `stop`, a signal interrupts the wait for results."""
        stop = stop or StopSignals()
        try:
            while True:
                self._fill()
                if not self.running:
                    others = self.waiting or (self.asking and self.foreign_running)
                    if self.shared and others:  # results of the others' running trials
                        time.sleep(POLL_SECONDS)
                        continue
                    return
                self.journal.flush()  # running trials are stored before they are waited for
                with stop.waiting():
                    finished = self.executor.wait()
                for done in finished:
                    if self.ordered:
                        self.held[done.number] = done
                    else:
                        self._finish(done)
                self._release()
                self.journal.flush_if_due()
        finally:
            self.journal.flush()

    def _release(self) -> None:
        """Ordered runs: tell held results in the order their trials were submitted (the
        lowest running number first), asking for new proposals after each, exactly as if
        the results had arrived in that order."""
        while self.held and min(self.running) in self.held:
            self._finish(self.held.pop(min(self.running)))
            self._fill()

    def _has_room(self) -> bool:
        if not self.executor.has_room():
            return False
        return not self.ordered or len(self.running) < self.executor.workers

    def _fill(self) -> None:
        """Submit interrupted trials, then new proposals, while a worker is free."""
        self._look_around()
        while self.interrupted and self._has_room():
            trial = self.interrupted.popleft()
            self._dispatch(trial, Arch.parse(trial.arch), stored=True)
        while self.asking and not self.interrupted and self._has_room():
            if not self._may_ask():
                break
            try:
                proposal = self._ask()
            except WaitForResults:  # ask again once a running trial has its result
                self.asking = bool(self.running or self.foreign_running)
                break
            if proposal is None:
                self.asking = False
                break
            trial, stored = self._create(proposal)
            submitted = self._dispatch(trial, proposal.arch, stored=stored)
            self.duplicates_in_a_row = 0 if submitted else self.duplicates_in_a_row + 1
            if self.duplicates_in_a_row >= MAX_CONSECUTIVE_DUPLICATES:
                self.asking = False
            self.journal.flush_if_due()
            self._look_around()

    def _look_around(self) -> None:
        """Shared: read what the other processes wrote. Alone: see whether one joined."""
        if self.shared:
            self._sync()
        elif self.run_id is not None and time.monotonic() - self.last_join_check > (
            JOIN_CHECK_SECONDS
        ):
            self.last_join_check = time.monotonic()
            if self.store.live_runs(self.id, other_than=self.run_id):
                self.journal.flush()
                self.store.mark_shared(self.id)
                self.shared = True
                self.watermark = self.seq

    def _sync(self) -> None:
        """Take in the trials the other processes created or finished since the last look."""
        if self.run_id is not None:
            self.store.heartbeat(self.run_id)
        for row in self.store.trials_since(self.id, self.watermark):
            self.watermark = max(self.watermark, row.created_seq + 1, (row.finished_seq or 0) + 1)
            if row.run_id == self.run_id and row.number in self.trials:
                continue  # ours
            known = self.trials.get(row.number)
            self.next_number = max(self.next_number, row.number + 1)
            if known is not None and known.finished:
                continue
            self.trials[row.number] = row
            if not row.finished:
                self._track_foreign(row)
                continue
            key = self.foreign_running.pop(row.number, None)
            if key is not None and self.running_keys.get(key) == row.number:
                del self.running_keys[key]
            if row.duplicate_of is not None and row.duplicate_of in self.trials:
                earlier = self.trials[row.duplicate_of]
                row = replace(
                    self._with_result(row, earlier.result(), row.finished_seq or 0),
                    info=dict(earlier.info),
                )
            self._settle(row, Arch.parse(row.arch))
            for twin in self.waiting.pop(row.number, []):
                self._finish_duplicate(twin, Arch.parse(twin.arch), row, stored=True)

    def _track_foreign(self, trial: TrialRecord) -> None:
        key = self._key(Arch.parse(trial.arch), trial.budget)
        self.foreign_running[trial.number] = key
        self._mark_running(key, trial.number)

    def _mark_running(self, key: _CacheKey, number: int) -> None:
        """Twins wait for the running trial of their key with the lowest number."""
        self.running_keys[key] = min(number, self.running_keys.get(key, number))

    def _may_ask(self) -> bool:
        """False once the budget is spent, counting running trials as queries spent."""
        usage = self.usage()
        if self.x.budget.exhausted(usage):
            return False
        limit = self.x.budget.queries
        running = len(self.running) + len(self.foreign_running)
        return limit is None or usage.queries + running < limit

    def _create(self, proposal: Proposal) -> tuple[TrialRecord, bool]:
        """A new running trial, and whether it is stored already (shared runs store it at
        once, to take its number)."""
        arch, budget = str(proposal.arch), self._budget_of(proposal)
        if self.shared:
            number, seq = self.store.add_trial_numbered_here(self.id, arch, budget, self.run_id)
        else:
            number, seq = self.next_number, self._next_seq()
        self.next_number = max(self.next_number, number + 1)
        trial = TrialRecord(
            number=number,
            arch=arch,
            budget=budget,
            status=Status.RUNNING,
            created_seq=seq,
            run_id=self.run_id,
        )
        self.trials[number] = trial
        if self.shared:  # see who else runs this arch, now that our number is known
            self._sync()
        return trial, self.shared

    def _dispatch(self, trial: TrialRecord, arch: Arch, *, stored: bool) -> bool:
        """Reuse an earlier result, wait for a running twin, or submit; True if submitted."""
        key = self._key(arch, trial.budget)
        if self.x.deduplicate != "none":
            earlier = self.cache.get(key)
            if earlier is not None:
                self._finish_duplicate(trial, arch, earlier, stored=stored)
                return False
            twin = self.running_keys.get(key)
            if twin is not None and twin < trial.number:  # the lower number runs, never both
                if not stored:
                    self.journal.created(trial)
                self.waiting.setdefault(twin, []).append(trial)
                return False
        if not stored:
            self.journal.created(trial)
        self.running[trial.number] = key
        self._mark_running(key, trial.number)
        self.executor.submit(Job(trial.number, arch, trial.budget))
        return True

    def _finish(self, done: Done) -> None:
        key = self.running.pop(done.number)
        if self.running_keys.get(key) == done.number:
            del self.running_keys[key]
        trial = self.trials[done.number]
        arch = Arch.parse(trial.arch)
        if self.shared:
            score, scores, violation = self.x.judge(done.result)
            seq = self.store.finish_trial_numbered_here(
                self.id, trial.number, done.result, score, scores, violation
            )
            finished = self._with_result(trial, done.result, seq)
        else:
            finished = self._with_result(trial, done.result, self._next_seq())
            self.journal.finished(finished, done.result)
        self._settle(finished, arch)
        for twin in self.waiting.pop(done.number, []):
            self._finish_duplicate(twin, Arch.parse(twin.arch), finished, stored=True)

    def _with_result(self, trial: TrialRecord, result: Result, seq: int) -> TrialRecord:
        score, scores, violation = self.x.judge(result)
        return replace(
            trial,
            status=result.status,
            metrics=dict(result.metrics),
            score=score,
            cost=result.cost,
            error=result.error,
            finished_seq=seq,
            info=dict(result.info),
            scores=scores,
            violation=violation,
        )

    def _finish_duplicate(
        self, trial: TrialRecord, arch: Arch, earlier: TrialRecord, *, stored: bool
    ) -> None:
        result = earlier.result()
        if self.shared:
            if not stored:
                raise AssertionError("a shared run stores each trial when it creates it")
            seq = self.store.finish_trial_numbered_here(
                self.id, trial.number, result, None, None, 0.0, duplicate_of=earlier.number
            )
        else:
            seq = self._next_seq()
        finished = replace(
            self._with_result(trial, result, seq),
            info=dict(earlier.info),
            duplicate_of=earlier.number,
        )
        if not self.shared:
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
