"""Any Optuna sampler as a nasforge strategy, over the space's categorical decisions.

Optuna is an optional dependency (``pip install nasforge[optuna]``), imported on first use.

Asks may run ahead of tells (parallel workers): each ask leaves a RUNNING trial in the study,
and each observation is told to the trial that proposed its arch (first asked, first told),
whatever the order of arrival. TPE is made with ``constant_liar=True`` (the default of
recent Optuna; experimental and off by default before): it counts RUNNING trials among the
bad ones, so concurrent asks are pushed apart; with no other trial running (a sequential
run) it samples exactly as without it. The other samplers treat RUNNING trials in their
own way (the random sampler ignores them).

Decisions are suggested define-by-run, through `SearchSpace.sample_with`: on a space with
conditional decisions the trial is asked only the decisions that the choices before them
activate, so the study holds only active decisions (TPE models each from the trials that
have it, as Optuna does for any conditional parameter); a foreign arch is added with its
active decisions alone.
"""

from __future__ import annotations

import warnings
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, PriorTrial, Proposal, Strategy

SAMPLERS = ("tpe", "random", "cmaes", "nsga2", "gp", "qmc")


class OptunaStrategy(Strategy):
    """Ask an Optuna sampler (TPE by default) for each proposal, tell it each score.

    With several objectives (`objectives`, set by the experiment through
    `configure_objectives`) every score is told, all maximized; a trial that fails or breaks
    a constraint is told as failed. An observation of an arch this strategy never proposed
    (a warm-start seed, a hand-fed trial) is added to the study as a finished trial, so the
    sampler learns from it too.

    Prior trials of another task (transfer, `learn_prior`) join the study as finished trials
    at the first ask that follows two observations here (a single objective only): each
    with the value ``mean + z * sd`` of the scores observed here by then, so that they meet
    this task's trials as standardized ranks; an arch already observed here is left out.
    """

    name = "optuna"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, sampler: str = "tpe") -> None:
        super().__init__(space, seed=seed)
        if sampler not in SAMPLERS:
            raise StrategyError(
                f"unknown Optuna sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}"
            )
        numeric_only = {"cmaes", "qmc"}
        if sampler in numeric_only:
            categorical = [
                d.label
                for d in space.decisions
                if not all(
                    isinstance(c, (int, float)) and not isinstance(c, bool) for c in d.choices
                )
            ]
            if categorical:
                raise StrategyError(
                    f"Optuna sampler {sampler!r} handles numeric decisions only; "
                    f"categorical decisions here: {', '.join(categorical)}"
                )
        self.sampler = sampler
        self.objectives_ = 1
        self.study_ = self._study()
        self.pending_: dict[Arch, deque[Any]] = defaultdict(deque)
        self.prior_: list[PriorTrial] = []
        self.observed_: list[tuple[Arch, float]] = []  # scored here, for the prior's scale

    def configure_objectives(self, count: int) -> None:
        if count != self.objectives_:
            if self.pending_ or self.study_.trials:
                raise StrategyError("the number of objectives is fixed once trials exist")
            self.objectives_ = count
            self.study_ = self._study()

    def _study(self) -> Any:
        optuna = _import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return optuna.create_study(
            directions=["maximize"] * self.objectives_,
            sampler=_make_sampler(optuna, self.sampler, self.seed),
        )

    def learn_prior(self, prior: Sequence[PriorTrial]) -> None:
        self.prior_ = list(prior)

    def ask(self) -> Proposal:
        if self.prior_ and len(self.observed_) >= 2 and self.objectives_ == 1:
            self._add_prior()
        trial = self.study_.ask()
        arch = self.space.sample_with(lambda d: trial.suggest_categorical(d.label, list(d.choices)))
        self.pending_[arch].append(trial)
        return Proposal(arch)

    def tell(self, observation: Observation) -> None:
        if observation.score is not None and self.prior_:
            self.observed_.append((observation.arch, observation.score))
        if observation.arch not in self.pending_:
            self._add_foreign(observation)
            return
        waiting = self.pending_[observation.arch]
        if not waiting:
            return  # told again (a budget scheduler's promotion): the first result counts
        trial = waiting.popleft()
        optuna = _import_optuna()
        values = self._values(observation)
        if values is None:
            self.study_.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study_.tell(trial, values if self.objectives_ > 1 else values[0])

    def _values(self, observation: Observation) -> list[float] | None:
        """The values to tell the study; None for a failed or infeasible trial."""
        scores = observation.scores
        if scores is None and observation.score is not None:
            scores = (observation.score,)  # a hand-driven loop may give the score alone
        if observation.score is None or scores is None:
            return None
        return list(scores) if self.objectives_ > 1 else [observation.score]

    def _add_prior(self) -> None:
        """Add the prior trials not observed here, on the scale of the scores seen here."""
        scores = np.array([score for _, score in self.observed_])
        observed = {self.space.canonical(arch) for arch, _ in self.observed_}
        for trial in self.prior_:
            if self.space.canonical(trial.arch) not in observed:
                value = float(scores.mean() + trial.z * scores.std())
                self._add_finished(trial.arch, [value])
        self.prior_ = []

    def _add_foreign(self, observation: Observation) -> None:
        """Add an observation of an arch this strategy did not propose as a finished trial."""
        self._add_finished(observation.arch, self._values(observation))

    def _add_finished(self, arch: Arch, values: list[float] | None) -> None:
        optuna = _import_optuna()
        state = optuna.trial.TrialState
        arch = self.space.validate(arch)
        active = [d for d in self.space.decisions if d.label in arch]
        self.study_.add_trial(
            optuna.trial.create_trial(
                params={d.label: arch[d.label] for d in active},
                distributions={
                    d.label: optuna.distributions.CategoricalDistribution(list(d.choices))
                    for d in active
                },
                values=values,
                state=state.FAIL if values is None else state.COMPLETE,
            )
        )


class TPE(OptunaStrategy):
    """Optuna's Tree-structured Parzen Estimator (Bergstra et al., 2011)."""

    name = "tpe"
    multi_objective = False

    def __init__(self, space: SearchSpace, *, seed: int = 0) -> None:
        super().__init__(space, seed=seed, sampler="tpe")

    def config(self) -> dict[str, Any]:
        return {}


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise StrategyError("this strategy needs Optuna: pip install 'nasforge[optuna]'") from None
    return optuna


def _make_sampler(optuna: Any, name: str, seed: int) -> Any:
    samplers = optuna.samplers
    makers = {
        "tpe": lambda: _tpe_sampler(optuna, seed),
        "random": lambda: samplers.RandomSampler(seed=seed),
        "cmaes": lambda: samplers.CmaEsSampler(seed=seed),
        "nsga2": lambda: samplers.NSGAIISampler(seed=seed),
        "gp": lambda: samplers.GPSampler(seed=seed),
        "qmc": lambda: samplers.QMCSampler(seed=seed),
    }
    return makers[name]()


def _tpe_sampler(optuna: Any, seed: int) -> Any:
    """TPE with the constant liar, without the ExperimentalWarning older Optuna gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
