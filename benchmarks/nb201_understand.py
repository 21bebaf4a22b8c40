"""Check `nasforge importance` against the truth of the full NAS-Bench-201 table.

The truth: over all 15,625 cells, the marginal effect of op o on edge e is the mean 200-epoch
CIFAR-10 validation accuracy of the cells with o on e, less the mean of all cells; an edge's
importance is the variance of its 5 effects as a share of the variance of all cells; what the
6 edges leave is the interaction share (71%).

The estimate: for every strategy and seed, one search of 100 evaluated queries on that
signal; `decision_importance` on its trials. Reported per strategy, mean ± sd over seeds:
Spearman between the 30 estimated and true (edge, op) effects, Spearman between the 6
estimated and true edge importances, the share of seeds whose most important edge is the
true one (node3_in0), and the interaction share. Beside it: Optuna's fANOVA importance
evaluator (`optuna.importance.FanovaImportanceEvaluator`) on the same trials (it gives
normalized per-edge importances only), and the plain per-choice sample means of the trials
(the model-free estimate of the effects, unbiased for uniform samples).

Usage::

    python benchmarks/nb201_understand.py --seeds 20 --out importance.md

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from nasforge.analysis import decision_importance
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.space import NB201Space
from nasforge.space.nb201.space import LABELS, OPS
from nasforge.strategy import make_strategy

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201.csv"
SIGNAL = "cifar10_valid_acc"
QUERIES = 100
BROKEN = 20.0
"""Validation accuracy below this: a broken cell (no live path; about 10%, chance)."""
STRATEGIES = ("random", "evolution")


@dataclass(frozen=True)
class Truth:
    effects: np.ndarray
    """(6 edges, 5 ops) marginal effects, accuracy points."""
    shares: np.ndarray
    """(6,) first-order variance shares."""

    @property
    def interaction_share(self) -> float:
        return float(1.0 - self.shares.sum())

    @property
    def top_edge(self) -> str:
        return LABELS[int(np.argmax(self.shares))]


def truth(table: NB201Table, space: NB201Space, *, broken: bool = True) -> Truth:
    """The truth over every cell, or (``broken=False``) over the cells that are not broken."""
    values = table.columns[SIGNAL]
    ops = np.array(
        [
            [OPS.index(str(space.parse(text)[label])) for label in LABELS]
            for text in table.arch_strings
        ]
    )
    if not broken:
        kept = values >= BROKEN
        values, ops = values[kept], ops[kept]
    effects = np.array(
        [[values[ops[:, j] == k].mean() - values.mean() for k in range(len(OPS))] for j in range(6)]
    )
    return Truth(effects, (effects**2).mean(axis=1) / values.var())


@dataclass(frozen=True)
class SeedResult:
    effects_rho: float
    unbroken_rho: float
    """Against the truth over the cells that are not broken."""
    edges_rho: float
    top_right: bool
    interaction_share: float
    optuna_edges_rho: float
    optuna_top_right: bool
    sample_means_rho: float
    seconds: float
    optuna_seconds: float
    broken: int
    """How many of the trials are broken cells."""


def one_seed(
    strategy: str,
    seed: int,
    table: NB201Table,
    space: NB201Space,
    true: Truth,
    unbroken: Truth,
) -> SeedResult:
    evaluator = NB201Benchmark(table, fidelity=200, space=space)
    search = Experiment(
        space, make_strategy(strategy, space, seed=seed), evaluator, budget=Budget(queries=QUERIES)
    ).run()
    trials = [t for t in search.trials if t.evaluated and "valid_acc" in t.metrics]
    archs = [space.parse(t.arch) for t in trials]
    values = np.array([t.metrics["valid_acc"] for t in trials])
    started = time.perf_counter()
    result = decision_importance(space, archs, values, metric="valid_acc", seed=seed)
    seconds = time.perf_counter() - started
    effects, shares = np.zeros((6, len(OPS))), np.zeros(6)
    for decision in result.decisions:
        j = LABELS.index(decision.label)
        shares[j] = decision.importance
        for effect in decision.effects:
            effects[j, OPS.index(str(effect.choice))] = effect.effect
    ops = np.array([[OPS.index(str(a[label])) for label in LABELS] for a in archs])
    sample_means = np.array(
        [
            [
                values[ops[:, j] == k].mean() - values.mean() if np.any(ops[:, j] == k) else 0.0
                for k in range(len(OPS))
            ]
            for j in range(6)
        ]
    )
    started = time.perf_counter()
    optuna_shares = optuna_fanova(archs, values, seed)
    optuna_seconds = time.perf_counter() - started
    return SeedResult(
        effects_rho=float(spearmanr(effects.ravel(), true.effects.ravel())[0]),
        unbroken_rho=float(spearmanr(effects.ravel(), unbroken.effects.ravel())[0]),
        edges_rho=float(spearmanr(shares, true.shares)[0]),
        top_right=LABELS[int(np.argmax(shares))] == true.top_edge,
        interaction_share=result.interaction_share,
        optuna_edges_rho=float(spearmanr(optuna_shares, true.shares)[0]),
        optuna_top_right=LABELS[int(np.argmax(optuna_shares))] == true.top_edge,
        sample_means_rho=float(spearmanr(sample_means.ravel(), true.effects.ravel())[0]),
        seconds=seconds,
        optuna_seconds=optuna_seconds,
        broken=int(np.sum(values < BROKEN)),
    )


def optuna_fanova(archs: list, values: np.ndarray, seed: int) -> np.ndarray:  # type: ignore[type-arg]
    """Optuna's fANOVA per-edge importances (normalized to sum to 1) on the same trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {label: optuna.distributions.CategoricalDistribution(OPS) for label in LABELS}
    study = optuna.create_study(direction="maximize")
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={label: str(arch[label]) for label in LABELS},
                distributions=distributions,
                value=float(value),
            )
            for arch, value in zip(archs, values, strict=True)
        ]
    )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return np.array([importances[label] for label in LABELS])


def describe(true: Truth) -> str:
    order = np.argsort(-true.shares)
    return f"interaction share {true.interaction_share:.1%}; edges by importance: " + ", ".join(
        f"{LABELS[j]} {true.shares[j]:.1%}" for j in order
    )


def by_broken_cells(by_strategy: dict[str, list[SeedResult]]) -> list[str]:
    """Seeds grouped by how many broken cells their trials hold: how often the top edge
    came out right and the interaction share in each group."""
    lines = [
        "By the number of broken cells among a seed's trials:",
        "",
        "| strategy | broken cells | seeds | top edge right | interaction share "
        "| Spearman, 30 effects | the same against the truth without broken cells |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy, results in by_strategy.items():
        for label, low, high in (("0", 0, 0), ("1", 1, 1), ("2", 2, 2), ("3 or more", 3, 10**9)):
            group = [r for r in results if low <= r.broken <= high]
            if group:
                right = sum(r.top_right for r in group)
                shares = [r.interaction_share for r in group]
                lines.append(
                    f"| {strategy} | {label} | {len(group)} | {right} of {len(group)} "
                    f"| {100 * statistics.fmean(shares):.0f}% "
                    f"| {statistics.fmean(r.effects_rho for r in group):.3f} "
                    f"| {statistics.fmean(r.unbroken_rho for r in group):.3f} |"
                )
    return lines


def mean_sd(values: list[float], percent: bool = False) -> str:
    scale = 100.0 if percent else 1.0
    mean = statistics.fmean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.0f}% ± {sd:.0f}" if percent else f"{mean:.3f} ± {sd:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--out", type=Path, default=None, help="Also write the table here.")
    args = parser.parse_args(argv)
    table = NB201Table.from_csv(args.benchmark)
    space = NB201Space()
    true = truth(table, space)
    unbroken = truth(table, space, broken=False)
    lines = [
        f"Truth (all {len(table):,} cells, {SIGNAL}): {describe(true)}",
        f"Truth over the cells that are not broken ({SIGNAL} >= {BROKEN:.0f}): "
        + describe(unbroken),
        "",
        f"{QUERIES} queries, {args.seeds} seeds (mean ± sd over seeds):",
        "",
        "| strategy | Spearman, 30 effects | Spearman, 6 edges | top edge right | interaction "
        f"share (truth {true.interaction_share:.0%}) | Optuna fANOVA: Spearman, 6 edges | Optuna: "
        "top edge right | sample means: Spearman, 30 effects | seconds (ours / Optuna) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_strategy: dict[str, list[SeedResult]] = {}
    for strategy in args.strategies:
        results = by_strategy[strategy] = []
        for seed in range(args.seeds):
            results.append(one_seed(strategy, seed, table, space, true, unbroken))
            print(f"{strategy} seed {seed}: {results[-1]}", file=sys.stderr, flush=True)
        lines.append(
            f"| {strategy} | {mean_sd([r.effects_rho for r in results])} "
            f"| {mean_sd([r.edges_rho for r in results])} "
            f"| {sum(r.top_right for r in results) / len(results):.0%} "
            f"| {mean_sd([r.interaction_share for r in results], percent=True)} "
            f"| {mean_sd([r.optuna_edges_rho for r in results])} "
            f"| {sum(r.optuna_top_right for r in results) / len(results):.0%} "
            f"| {mean_sd([r.sample_means_rho for r in results])} "
            f"| {statistics.fmean(r.seconds for r in results):.1f} / "
            f"{statistics.fmean(r.optuna_seconds for r in results):.1f} |"
        )
    lines += ["", *by_broken_cells(by_strategy)]
    lines += ["", "Command: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`"]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
