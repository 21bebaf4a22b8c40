"""Any Optuna sampler as a nasforge strategy, over the space's categorical decisions.

Optuna is an optional dependency (``pip install nasforge[optuna]``), imported on first use.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy

SAMPLERS = ("tpe", "random", "cmaes", "nsga2", "gp", "qmc")


class OptunaStrategy(Strategy):
    """Ask an Optuna sampler (TPE by default) for each proposal, tell it each score."""

    name = "optuna"

    def __init__(self, space: SearchSpace, *, seed: int = 0, sampler: str = "tpe") -> None:
        super().__init__(space, seed=seed)
        if sampler not in SAMPLERS:
            raise StrategyError(
                f"unknown Optuna sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}"
            )
        self.sampler = sampler
        optuna = _import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study_ = optuna.create_study(
            direction="maximize", sampler=_make_sampler(optuna, sampler, seed)
        )
        self.pending_: dict[Arch, deque[Any]] = defaultdict(deque)

    def ask(self) -> Proposal:
        trial = self.study_.ask()
        arch = Arch(
            {
                d.label: trial.suggest_categorical(d.label, list(d.choices))
                for d in self.space.decisions
            }
        )
        self.pending_[arch].append(trial)
        return Proposal(arch)

    def tell(self, observation: Observation) -> None:
        waiting = self.pending_.get(observation.arch)
        if not waiting:
            return
        trial = waiting.popleft()
        optuna = _import_optuna()
        if observation.score is None:
            self.study_.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study_.tell(trial, observation.score)


class TPE(OptunaStrategy):
    """Optuna's Tree-structured Parzen Estimator (Bergstra et al., 2011)."""

    name = "tpe"

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
        "tpe": lambda: samplers.TPESampler(seed=seed),
        "random": lambda: samplers.RandomSampler(seed=seed),
        "cmaes": lambda: samplers.CmaEsSampler(seed=seed),
        "nsga2": lambda: samplers.NSGAIISampler(seed=seed),
        "gp": lambda: samplers.GPSampler(seed=seed),
        "qmc": lambda: samplers.QMCSampler(seed=seed),
    }
    return makers[name]()
