"""Successive halving, Hyperband (Li et al., JMLR 2018) and BOHB (Falkner et al., ICML 2018).

These decide *how much budget* a configuration gets; another strategy, the sampler, decides
*which* configurations to try (as Optuna's Hyperband pruner works beside any sampler).

A bracket asks the sampler for `n` new archs at its lowest rung; once every result of a rung
has arrived, the best `1/eta` of them (distinct archs that did not fail) are proposed again at
the next rung's budget, up to the highest rung. Successive halving repeats the most
aggressive bracket; Hyperband cycles over brackets that start at each rung in turn, from the
lowest to the highest, with the sizes of Li et al. (Algorithm 1). When asks run ahead of
tells (parallel workers) and no open bracket has anything left to hand out, the next bracket
opens, so workers never wait; once the sampler is exhausted (a finished grid, a small space)
no bracket can open, and `ask` raises `WaitForResults` while some bracket still waits for
results that decide its promotions (`SearchExhausted` once none is left). Results are
matched to their bracket by (arch, budget), so they may arrive in any order. An observation
the scheduler did not ask for goes to the sampler alone: it is in no bracket.

The sampler is told **every** observation, at every budget; `Observation.proposal.budget`
says which. Scores at different budgets are only roughly comparable: a sampler that keys its
trials by arch (``tpe``, ``local``) in effect learns from the first (lowest-rung) result of
each arch it proposed and ignores the rest; ``evolution`` puts every result in its
population, so promoted archs enter it again with their higher-budget scores. BOHB's own
sampler keeps one model per budget and proposes from the highest budget with enough results.

The state is a function of the seed and the ask/tell sequence, so replay resumes it.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import (
    Observation,
    PriorTrial,
    Proposal,
    SearchExhausted,
    Strategy,
    WaitForResults,
)
from nasforge.strategy.budget_kde import BudgetKDE

DEFAULT_MIN_BUDGET = 1.0
DEFAULT_MAX_BUDGET = 27.0


def rung_budgets(
    min_budget: float | None = None,
    max_budget: float | None = None,
    eta: int = 3,
    budgets: tuple[float, ...] | list[float] | None = None,
) -> tuple[float, ...]:
    """The budgets of the rungs, lowest first.

    Explicit `budgets` are used as given (strictly increasing). Otherwise the rungs are
    ``max_budget * eta**-k`` for k = s_max, ..., 0 with ``s_max = floor(log_eta(max/min))``,
    rounded to whole epochs: min 1, max 27, eta 3 gives 1, 3, 9, 27.
    """
    if isinstance(eta, bool) or int(eta) != eta or eta < 2:
        raise StrategyError(f"eta must be a whole number >= 2, not {eta}")
    if budgets is not None:
        rungs = tuple(float(b) for b in budgets)
        if not rungs or any(not math.isfinite(b) or b <= 0 for b in rungs):
            raise StrategyError(f"budgets must be numbers > 0, not {list(budgets)}")
        if any(low >= high for low, high in itertools.pairwise(rungs)):
            raise StrategyError(f"budgets must be strictly increasing, not {list(budgets)}")
        for name, value, expected in (
            ("min_budget", min_budget, rungs[0]),
            ("max_budget", max_budget, rungs[-1]),
        ):
            if value is not None and float(value) != expected:
                raise StrategyError(
                    f"{name}={value} disagrees with budgets {list(budgets)}; give one or the other"
                )
        return rungs
    low = DEFAULT_MIN_BUDGET if min_budget is None else float(min_budget)
    high = DEFAULT_MAX_BUDGET if max_budget is None else float(max_budget)
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise StrategyError(f"need 0 < min_budget <= max_budget, not {low} and {high}")
    s_max = math.floor(math.log(high / low) / math.log(eta) + 1e-9)
    rungs = tuple(float(round(high / eta ** (s_max - k))) for k in range(s_max + 1))
    if rungs[0] < 1 or len(set(rungs)) != len(rungs):
        raise StrategyError(
            f"min_budget={low}, max_budget={high}, eta={eta} give rungs {list(rungs)} that are "
            "not distinct whole epochs >= 1; pass budgets=(...) explicitly"
        )
    return rungs


@dataclass(eq=False)
class _Bracket:
    """One bracket: its stages' budgets and sizes, and the current stage's archs and results."""

    number: int
    budgets: tuple[float, ...]
    sizes: list[int]
    stage: int = 0
    archs: list[Arch] = field(default_factory=list)
    asked: int = 0
    scores: dict[int, float | None] = field(default_factory=dict)

    @property
    def budget(self) -> float:
        return self.budgets[self.stage]

    @property
    def has_work(self) -> bool:
        return self.asked < self.sizes[self.stage]

    @property
    def stage_done(self) -> bool:
        return self.asked == self.sizes[self.stage] and len(self.scores) == self.asked


class SuccessiveHalving(Strategy):
    """Successive halving around any sampler: every bracket starts at the lowest rung.

    Each bracket asks the sampler for ``eta**s_max`` archs at the lowest budget and keeps
    the best ``1/eta`` at each rung up to the highest (``s_max + 1`` rungs in all).
    """

    name = "sh"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        sampler: str = "random",
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: int = 3,
        budgets: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        self.sampler = sampler
        self.min_budget = min_budget
        self.max_budget = max_budget
        self.eta = eta
        self.budgets = budgets
        self.rungs_ = rung_budgets(min_budget, max_budget, eta, budgets)
        self.sampler_ = self._make_sampler()
        self.brackets_: list[_Bracket] = []
        self.opened_ = 0
        self.exhausted_ = False
        self.outstanding_: dict[tuple[Arch, float], deque[tuple[_Bracket, int, int]]] = {}

    def _make_sampler(self) -> Strategy:
        from nasforge.strategy import make_strategy  # here: the registry imports this module

        sampler = make_strategy(self.sampler, self.space, seed=self.seed)
        if isinstance(sampler, SuccessiveHalving):
            raise StrategyError(f"the sampler of {self.name!r} cannot be {self.sampler!r}")
        return sampler

    @property
    def max_stage(self) -> int:
        """s_max: the number of halvings from the lowest rung to the highest."""
        return len(self.rungs_) - 1

    def config(self) -> dict[str, Any]:
        config = super().config()
        if config.get("budgets") is not None:
            config["budgets"] = list(config["budgets"])  # as JSON stores it
        return config

    def configure_objectives(self, count: int) -> None:
        self.sampler_.configure_objectives(count)

    def learn_prior(self, prior: Sequence[PriorTrial]) -> None:
        self.sampler_.learn_prior(prior)  # the prior informs the sampler's model

    # -- brackets ------------------------------------------------------------------
    def bracket_start(self, number: int) -> int:
        """The rung index the `number`-th bracket starts at (always the lowest here)."""
        return 0

    def bracket_size(self, number: int) -> int:
        """How many archs the `number`-th bracket samples at its first rung."""
        s = self.max_stage - self.bracket_start(number)
        return int(self.eta**s)

    def _open_bracket(self) -> _Bracket:
        number = self.opened_
        self.opened_ += 1
        start = self.bracket_start(number)
        size = self.bracket_size(number)
        sizes = [size // self.eta**k for k in range(len(self.rungs_) - start)]
        bracket = _Bracket(number, self.rungs_[start:], sizes)
        self.brackets_.append(bracket)
        return bracket

    # -- ask and tell ----------------------------------------------------------------
    def ask(self) -> Proposal:
        while True:
            bracket = next((b for b in self.brackets_ if b.has_work), None)
            if bracket is None:
                if self.exhausted_ and self.brackets_:
                    raise WaitForResults("no new archs; promotions wait for pending results")
                if self.exhausted_:
                    raise SearchExhausted(f"the sampler {self.sampler!r} has nothing left")
                bracket = self._open_bracket()
            proposal = self._hand_out(bracket)
            if proposal is not None:
                return proposal

    def _hand_out(self, bracket: _Bracket) -> Proposal | None:
        if bracket.stage == 0:
            try:
                arch = self.sampler_.ask().arch
            except SearchExhausted:
                self.exhausted_ = True
                bracket.sizes = [bracket.asked // self.eta**k for k in range(len(bracket.sizes))]
                self._advance(bracket)
                return None
            bracket.archs.append(arch)
        else:
            arch = bracket.archs[bracket.asked]
        index = bracket.asked
        bracket.asked += 1
        key = (arch, bracket.budget)
        self.outstanding_.setdefault(key, deque()).append((bracket, bracket.stage, index))
        return Proposal(arch, bracket.budget)

    def tell(self, observation: Observation) -> None:
        budget = observation.proposal.budget
        key = (observation.arch, float(budget if budget is not None else math.nan))
        waiting = self.outstanding_.get(key)
        if not waiting:
            self.sampler_.tell(observation)  # not one of ours: only the sampler learns from it
            return
        bracket, stage, index = waiting.popleft()
        if not waiting:
            del self.outstanding_[key]
        self.sampler_.tell(observation)
        if bracket.stage == stage:
            bracket.scores[index] = observation.score
            self._advance(bracket)

    def _advance(self, bracket: _Bracket) -> None:
        """Promote the best 1/eta once a stage is complete; close the bracket at the end."""
        if not bracket.stage_done:
            return
        promoted: list[Arch] = []
        if bracket.stage + 1 < len(bracket.sizes):
            keep = bracket.sizes[bracket.stage + 1]
            ranked = sorted(
                (index for index, score in bracket.scores.items() if score is not None),
                key=lambda index: (-(bracket.scores[index] or 0.0), index),
            )
            seen: set[Arch] = set()
            for index in ranked:
                canonical = self.space.canonical(bracket.archs[index])
                if canonical not in seen and len(promoted) < keep:
                    seen.add(canonical)
                    promoted.append(bracket.archs[index])
        if not promoted:
            self.brackets_.remove(bracket)
            return
        bracket.stage += 1
        bracket.sizes[bracket.stage] = len(promoted)
        bracket.archs, bracket.asked, bracket.scores = promoted, 0, {}


class Hyperband(SuccessiveHalving):
    """Hyperband: successive halving over brackets that start at each rung in turn.

    Bracket s (s = s_max, ..., 0, then again) samples ``ceil((s_max + 1) / (s + 1) * eta**s)``
    archs at rung ``s_max - s``; s = 0 is plain random search at the highest budget.
    """

    name = "hyperband"

    def bracket_start(self, number: int) -> int:
        return number % (self.max_stage + 1)

    def bracket_size(self, number: int) -> int:
        s_max = self.max_stage
        s = s_max - self.bracket_start(number)
        return int(-(-((s_max + 1) * self.eta**s) // (s + 1)))


class BOHB(Hyperband):
    """BOHB: Hyperband whose sampler models each budget with a kernel density estimate.

    As Falkner et al.: a fraction `random_fraction` of new archs is sampled at random; the
    rest come from the model of the highest budget with at least d + 3 results (d = number
    of decisions): the top `top_fraction` of its archs (at least d + 1) make the "good"
    density l(x), the others the "bad" one g(x), each a product of Aitchison-Aitken kernels
    over the categorical decisions; of `candidates` draws from l (bandwidths widened by
    `bandwidth_factor`), the one with the largest l(x) / g(x) is proposed, preferring archs
    not proposed before.

    On a space with conditional decisions the model's points hold a choice for every
    decision: a told arch is completed with the space's defaults for its inactive decisions
    (`SearchSpace.complete`), and each draw is resolved to the arch of the decisions it
    activates (`SearchSpace.resolve`) and completed again before its densities are compared,
    so a draw and the points agree on what an inactive decision looks like.
    """

    name = "bohb"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        min_budget: float | None = None,
        max_budget: float | None = None,
        eta: int = 3,
        budgets: tuple[float, ...] | None = None,
        random_fraction: float = 1 / 3,
        top_fraction: float = 0.15,
        candidates: int = 64,
        bandwidth_factor: float = 3.0,
    ) -> None:
        if not 0.0 <= random_fraction <= 1.0:
            raise StrategyError(f"random_fraction must lie in [0, 1], not {random_fraction}")
        if not 0.0 < top_fraction < 1.0:
            raise StrategyError(f"top_fraction must lie in (0, 1), not {top_fraction}")
        if candidates < 1:
            raise StrategyError(f"candidates must be >= 1, not {candidates}")
        if not bandwidth_factor > 0:
            raise StrategyError(f"bandwidth_factor must be > 0, not {bandwidth_factor}")
        self.random_fraction = random_fraction
        self.top_fraction = top_fraction
        self.candidates = candidates
        self.bandwidth_factor = bandwidth_factor
        super().__init__(
            space,
            seed=seed,
            sampler="kde",
            min_budget=min_budget,
            max_budget=max_budget,
            eta=eta,
            budgets=budgets,
        )

    def _make_sampler(self) -> Strategy:
        return BudgetKDE(
            self.space,
            seed=self.seed,
            random_fraction=self.random_fraction,
            top_fraction=self.top_fraction,
            candidates=self.candidates,
            bandwidth_factor=self.bandwidth_factor,
        )
