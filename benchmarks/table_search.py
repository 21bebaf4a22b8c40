"""Strategies on benchmarks beyond NAS-Bench-201 (issue 34 item 4); prints Markdown tables.

Parts (``--part``), each against random search and a plain Optuna study (its own study on
the same decisions, measured in the same run):

- ``nb301``: the darts space (``distinct_inputs``) on the NAS-Bench-301 surrogate, validation
  accuracy at epoch 98: mean best (± standard error) at 100 and 300 queries, and the queries
  each run needs to reach the 99.9th percentile of ``--random-genotypes`` random genotypes.
- ``hwgpt``: HW-GPT-Bench S: perplexity alone at 100 queries (gap to the table's minimum);
  perplexity against A100 latency and against CPU energy: hypervolume at 100 and 300 queries
  as a fraction of the hypervolume of the whole table (its exact Pareto front).
- ``nb201``: NAS-Bench-201 as a plain table (one column per edge, written to a temporary CSV)
  beside the built-in nb201 space and evaluator: evolution's mean best at 100 queries, and
  on the table random search, local, tpe and a plain Optuna TPE study (``--slow-seeds``
  seeds for the last three).
- ``importance``: decision importance from 100-query random searches on HW-GPT-Bench S
  (perplexity) against the marginal effects of the whole table, beside naive marginal means.
- ``importance-nb301``: the same on the NAS-Bench-301 surrogate, the truth from
  ``--truth-genotypes`` random genotypes.

A plain Optuna study counts every trial as a query, repeats included (as Optuna does); a
nasforge experiment does not spend a query on an arch it has already evaluated.

    python benchmarks/table_search.py --part nb301 --seeds 10 --slow-seeds 3
    python benchmarks/table_search.py --part hwgpt --seeds 20 --slow-seeds 5

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import pearsonr, spearmanr

from nasforge.analysis.importance import decision_importance
from nasforge.analysis.surrogate import DecisionForest
from nasforge.arch import Arch
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.evaluate.base import Evaluator
from nasforge.objective import Objective
from nasforge.pareto import hypervolume
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.table_setup import hwgpt_parts, nb301_parts, table_parts
from nasforge.space import NB201Space
from nasforge.space.base import SearchSpace
from nasforge.space.table.data import INACTIVE
from nasforge.space.table.space import TableSpace
from nasforge.strategy import make_strategy

BENCHMARKS = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks"
BUDGETS = (100, 300)
FAST = ("random", "evolution", "local", "tpe")
"""nasforge strategies run with every seed; `SLOW` ones (seconds per query) with fewer."""
SLOW = ("reinforce", "bayesian")
ENERGY = "energy_j_cpu_meta"
ONLY: list[str] | None = None
"""Row labels to run (`--only`; "Optuna" names the plain Optuna study); None runs all."""
Metrics = dict[str, float]


# -- runs ---------------------------------------------------------------------------------
def nasforge_run(
    space: SearchSpace,
    evaluator: Evaluator,
    strategy: str,
    seed: int,
    queries: int,
    objectives: Sequence[Objective],
) -> list[Metrics]:
    """The metrics of each evaluated trial of one nasforge search, in order."""
    result = Experiment(
        space,
        make_strategy(strategy, space, seed=seed),
        evaluator,
        budget=Budget(queries=queries),
        objective=list(objectives),
    ).run()
    return [dict(t.metrics) for t in result.trials if t.evaluated][:queries]


def _nasforge(
    space: SearchSpace,
    evaluator: Evaluator,
    strategy: str,
    queries: int,
    objectives: Sequence[Objective],
    seed: int,
) -> list[Metrics]:
    return nasforge_run(space, evaluator, strategy, seed, queries, objectives)


def optuna_run(
    space: SearchSpace,
    evaluator: Evaluator,
    sampler: str,
    seed: int,
    queries: int,
    objectives: Sequence[Objective],
    archs: list[Arch] | None = None,
) -> list[Metrics]:
    """A plain Optuna study: each trial suggests the space's decisions define-by-run (only the
    active ones) and evaluates the arch they resolve to (the nearest row of a table; on the
    darts space a repeated input moves to the lowest other one), appended to `archs`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    made = (
        optuna.samplers.TPESampler(seed=seed)
        if sampler == "tpe"
        else optuna.samplers.NSGAIISampler(seed=seed)
    )
    study = optuna.create_study(
        sampler=made,
        directions=["maximize" if o.direction == "max" else "minimize" for o in objectives],
    )
    found: list[Metrics] = []
    for _ in range(queries):
        trial = study.ask()
        arch = space.sample_with(functools.partial(_suggest, trial))
        metrics = dict(evaluator.evaluate(arch).metrics)
        if archs is not None:
            archs.append(arch)
        study.tell(trial, [metrics[o.metric] for o in objectives])
        found.append(metrics)
    return found


def _suggest(trial: Any, decision: Any) -> Any:
    return trial.suggest_categorical(decision.label, list(decision.choices))


def best_at(values: Sequence[float], budget: int, direction: str) -> float:
    pick = max if direction == "max" else min
    return pick(values[:budget])


def mean_se(values: Sequence[float], digits: int = 3) -> str:
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {se:.{digits}f}"


Runner = Callable[[int], list[Metrics]]


def methods(
    space: SearchSpace,
    evaluator: Evaluator,
    objectives: Sequence[Objective],
    queries: int,
    strategies: Sequence[str],
    optuna_sampler: str,
) -> dict[str, Runner]:
    """Label -> one run of `queries` for a seed."""
    runners: dict[str, Runner] = {
        name: functools.partial(_nasforge, space, evaluator, name, queries, objectives)
        for name in strategies
    }
    runners[f"Optuna {optuna_sampler.upper()} (own study)"] = lambda seed: optuna_run(
        space, evaluator, optuna_sampler, seed, queries, objectives
    )
    if ONLY is not None:
        runners = {k: v for k, v in runners.items() if k in ONLY or k.split()[0] in ONLY}
    return runners


# -- NAS-Bench-301 ------------------------------------------------------------------------
def part_nb301(args: argparse.Namespace) -> None:
    space, surrogate = nb301_parts("darts", {}, {}, args.benchmarks / "nb301_surrogate")
    goal = [Objective("valid_acc", "max")]
    rng = np.random.default_rng(12345)
    started = time.perf_counter()
    genotypes = [space.to_genotype(space.sample(rng)) for _ in range(args.random_genotypes)]
    randoms = np.concatenate(
        [
            100.0 * surrogate.predict(genotypes[i : i + 2000])[:, 0]
            for i in range(0, len(genotypes), 2000)
        ]
    )
    threshold = float(np.quantile(randoms, 0.999))
    print(
        f"NAS-Bench-301 surrogate, valid_acc (%) at epoch 98; {len(randoms)} random genotypes "
        f"({time.perf_counter() - started:.1f} s): median {np.median(randoms):.2f}, "
        f"max {randoms.max():.2f}, 99.9th percentile {threshold:.3f}\n"
    )
    print(
        "| strategy | seeds | best at 100 | best at 300 | reached 99.9th pct by 300 | "
        "median queries to reach it | s/run |"
    )
    print("|---|---|---|---|---|---|---|")
    table = methods(space, surrogate, goal, max(BUDGETS), [*FAST, *SLOW], "tpe")
    for label, run in table.items():
        seeds = args.slow_seeds if label in SLOW else args.seeds
        bests: dict[int, list[float]] = {b: [] for b in BUDGETS}
        reach: list[int] = []
        started = time.perf_counter()
        for seed in range(seeds):
            values = [m["valid_acc"] for m in run(seed)]
            for budget in BUDGETS:
                bests[budget].append(best_at(values, budget, "max"))
            hits = [i + 1 for i, v in enumerate(values) if v >= threshold]
            reach.append(hits[0] if hits else max(BUDGETS) + 1)
        seconds = (time.perf_counter() - started) / seeds
        reached = sum(r <= max(BUDGETS) for r in reach)
        median = statistics.median(reach)
        shown = f"{median:g}" if median <= max(BUDGETS) else f"> {max(BUDGETS)}"
        print(
            f"| {label} | {seeds} | {mean_se(bests[100])} | {mean_se(bests[300])} | "
            f"{reached}/{seeds} | {shown} | {seconds:.1f} |",
            flush=True,
        )
    print()


# -- HW-GPT-Bench S -------------------------------------------------------------------------
def part_hwgpt(args: argparse.Namespace) -> None:
    space, evaluator, _ = hwgpt_parts("hwgpt-s", args.benchmarks, None)
    ppl = space.data.metrics["perplexity"]
    optimum = float(np.nanmin(ppl))
    goal = [Objective("perplexity", "min")]
    print(
        f"HW-GPT-Bench S, perplexity (min) at 100 queries; {space.size()} rows, table minimum "
        f"{optimum:.4f}, median {np.nanmedian(ppl):.4f}\n"
    )
    print("| strategy | seeds | best at 100 | gap to the minimum | found the minimum | s/run |")
    print("|---|---|---|---|---|---|")
    for label, run in methods(space, evaluator, goal, 100, [*FAST, *SLOW], "tpe").items():
        seeds = args.slow_seeds if label in SLOW else args.seeds
        started = time.perf_counter()
        bests = [best_at([m["perplexity"] for m in run(seed)], 100, "min") for seed in range(seeds)]
        seconds = (time.perf_counter() - started) / seeds
        gaps = [b - optimum for b in bests]
        hit = sum(g <= 1e-9 for g in gaps)
        print(
            f"| {label} | {seeds} | {mean_se(bests, 4)} | {mean_se(gaps, 4)} | {hit}/{seeds} | "
            f"{seconds:.1f} |",
            flush=True,
        )
    print()


def part_hwgpt_pareto(args: argparse.Namespace) -> None:
    space, evaluator, _ = hwgpt_parts("hwgpt-s", args.benchmarks, None)
    ppl = space.data.metrics["perplexity"]
    for second in ("latency_ms_a100", ENERGY):
        objectives = [Objective("perplexity", "min"), Objective(second, "min")]
        points = [(-p, -c) for p, c in zip(ppl, space.data.metrics[second], strict=True)]
        reference = (min(p[0] for p in points), min(p[1] for p in points))
        best = hypervolume(points, reference)
        print(
            f"HW-GPT-Bench S, perplexity against {second} (both min): hypervolume as a fraction "
            f"of the whole table's (reference: the table's worst of each)\n"
        )
        print("| strategy | seeds | HV at 100 | HV at 300 | s/run |")
        print("|---|---|---|---|---|")
        runners = methods(
            space, evaluator, objectives, max(BUDGETS), ["random", "nsga2", "pareto-local"], "nsga2"
        )
        for label, run in runners.items():
            fractions: dict[int, list[float]] = {b: [] for b in BUDGETS}
            started = time.perf_counter()
            for seed in range(args.seeds):
                found = [(-m["perplexity"], -m[second]) for m in run(seed)]
                for budget in BUDGETS:
                    fractions[budget].append(hypervolume(found[:budget], reference) / best)
            seconds = (time.perf_counter() - started) / args.seeds
            print(
                f"| {label} | {args.seeds} | {mean_se(fractions[100], 4)} | "
                f"{mean_se(fractions[300], 4)} | {seconds:.1f} |",
                flush=True,
            )
        print()


# -- NAS-Bench-201 as a plain table -----------------------------------------------------------
EDGES = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")


def write_nb201_table(source: Path, target: Path) -> None:
    """One column per edge of the NB201 cell string, beside the accuracy columns."""
    with source.open(newline="") as read, target.open("w", newline="") as write:
        rows = csv.DictReader(read)
        out = csv.writer(write)
        out.writerow([*EDGES, "cifar10_valid_acc", "cifar10_test_acc"])
        for row in rows:
            ops = [part.split("~")[0] for part in row["arch"].split("|") if "~" in part]
            out.writerow([*ops, row["cifar10_valid_acc"], row["cifar10_test_acc"]])


def part_nb201(args: argparse.Namespace) -> None:
    source = args.benchmarks / "nb201.csv"
    nb201 = NB201Table.from_csv(source)
    builtin = NB201Space()
    goal = [Objective("cifar10_valid_acc", "max")]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nb201_edges.csv"
        write_nb201_table(source, path)
        table, lookup = table_parts(path, EDGES, goal, report=["cifar10_test_acc"])
        ways: dict[str, tuple[SearchSpace, Evaluator, str]] = {
            "evolution, built-in nb201 space and evaluator": (
                builtin,
                NB201Benchmark(nb201, fidelity=200),
                "evolution",
            ),
            **{
                f"{name}, plain table": (table, lookup, name)
                for name in ("evolution", "random", "local", "tpe", "Optuna TPE")
            },
        }
        if ONLY is not None:
            ways = {k: v for k, v in ways.items() if v[2] in ONLY or v[2].split()[0] in ONLY}
        distinct = len({builtin.canonical(a) for a in builtin.enumerate()})
        print(
            f"NAS-Bench-201 (CIFAR-10 validation accuracy, 200 epochs), 100 queries; "
            f"{table.size()} table rows, {distinct} distinct networks up to isomorphism\n"
        )
        print(
            "| strategy, path | seeds | best valid at 100 | its test acc | distinct networks "
            "among the 100 | s/run |"
        )
        print("|---|---|---|---|---|---|")
        for label, (space, evaluator, name) in ways.items():
            seeds = args.seeds if name in ("evolution", "random") else args.slow_seeds
            valid, test, unique = [], [], []
            started = time.perf_counter()
            for seed in range(seeds):
                archs: list[Arch] = []
                if name == "Optuna TPE":
                    done = optuna_run(space, evaluator, "tpe", seed, 100, goal, archs)
                else:
                    result = Experiment(
                        space,
                        make_strategy(name, space, seed=seed),
                        evaluator,
                        budget=Budget(queries=100),
                        objective=goal,
                    ).run()
                    trials = [t for t in result.trials if t.evaluated][:100]
                    done = [dict(t.metrics) for t in trials]
                    archs = [Arch.parse(t.arch) for t in trials]
                top = max(done, key=lambda m: m["cifar10_valid_acc"])
                valid.append(top["cifar10_valid_acc"])
                test.append(top["cifar10_test_acc"])
                unique.append(len({_network(builtin, space, a) for a in archs}))
            seconds = (time.perf_counter() - started) / seeds
            print(
                f"| {label} | {seeds} | {mean_se(valid)} | {mean_se(test)} | "
                f"{mean_se([float(u) for u in unique], 1)} | {seconds:.1f} |",
                flush=True,
            )
        print()


def _network(builtin: NB201Space, space: SearchSpace, arch: Arch) -> Arch:
    """The canonical NB201 cell of an arch of either path."""
    if isinstance(space, TableSpace):
        ops = [str(arch[e]) for e in EDGES]
        text = f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"
        arch = builtin.parse(text)
    return builtin.canonical(arch)


# -- decision importance on HW-GPT-Bench S and NAS-Bench-301 -----------------------------------
def marginal_effects(codes: np.ndarray, values: np.ndarray, space: SearchSpace) -> dict[Any, float]:
    """(decision, choice) -> mean value of the rows with that choice less the average of the
    decision's choice means (choices absent from the rows are left out)."""
    effects: dict[Any, float] = {}
    for j, decision in enumerate(space.decisions):
        means = {
            k: float(values[codes[:, j] == k].mean())
            for k in range(len(decision.choices))
            if (codes[:, j] == k).any()
        }
        if not means:
            continue
        centre = statistics.mean(means.values())
        for k, mean in means.items():
            effects[(decision.label, decision.choices[k])] = mean - centre
    return effects


def top_decision(codes: np.ndarray, values: np.ndarray, space: SearchSpace) -> str:
    """The decision whose marginal effects explain most of the variance over the rows."""
    effects = marginal_effects(codes, values, space)
    explained = {}
    for j, decision in enumerate(space.decisions):
        column = codes[:, j]
        explained[decision.label] = sum(
            effects.get((decision.label, decision.choices[k]), 0.0) ** 2
            for k in column
            if k != INACTIVE
        )
    return max(explained, key=lambda label: explained[label])


def importance_rows(
    space: SearchSpace,
    evaluator: Evaluator,
    metric: str,
    direction: Literal["max", "min"],
    truth: tuple[dict[Any, float], str],
    seeds: int,
    trials: int = 100,
) -> None:
    """Per seed, a `trials`-query random search (100, the issue's size); the forest's
    (`decision_importance`) and the naive per-choice means' effects and top decision against
    `truth`; prints the table."""
    effects, true_top = truth
    forest_rows = DecisionForest(space)
    rows: dict[str, dict[str, list[float]]] = {
        "decision_importance (forest)": {"pearson": [], "spearman": [], "top": []},
        "naive marginal means": {"pearson": [], "spearman": [], "top": []},
    }
    started = time.perf_counter()
    for seed in range(seeds):
        result = Experiment(
            space,
            make_strategy("random", space, seed=seed),
            evaluator,
            budget=Budget(queries=trials),
            objective=[Objective(metric, direction)],
        ).run()
        done = [t for t in result.trials if t.evaluated][:trials]
        archs = [space.validate(Arch.parse(t.arch)) for t in done]
        values = np.array([t.metrics[metric] for t in done])
        found = decision_importance(
            space, archs, values, metric=metric, direction=direction, seed=seed, min_trials=100
        )
        forest = {(d.label, e.choice): e.effect for d in found.decisions for e in d.effects}
        sample = forest_rows.rows(archs)
        naive = marginal_effects(sample, values, space)
        for label, estimate, top in (
            ("decision_importance (forest)", forest, found.decisions[0].label),
            ("naive marginal means", naive, top_decision(sample, values, space)),
        ):
            shared = [k for k in effects if k in estimate]
            true = [effects[k] for k in shared]
            est = [estimate[k] for k in shared]
            rows[label]["pearson"].append(float(pearsonr(true, est)[0]))
            rows[label]["spearman"].append(float(spearmanr(true, est)[0]))
            rows[label]["top"].append(float(top == true_top))
        print(
            f"  seed {seed}: "
            + "; ".join(f"{k.split()[0]} {v['pearson'][-1]:.3f}" for k, v in rows.items()),
            file=sys.stderr,
            flush=True,
        )
    seconds = (time.perf_counter() - started) / seeds
    print("| estimate | trials | seeds | Pearson | Spearman | top decision right |")
    print("|---|---|---|---|---|---|")
    for label, got in rows.items():
        print(
            f"| {label} | {trials} | {seeds} | {mean_se(got['pearson'])} "
            f"| {mean_se(got['spearman'])} | {100 * statistics.mean(got['top']):.0f}% |"
        )
    print(f"\n({seconds:.1f} s per seed)\n", flush=True)


def part_importance(args: argparse.Namespace) -> None:
    space, evaluator, _ = hwgpt_parts("hwgpt-s", args.benchmarks, None)
    codes, ppl = space.data.codes, space.data.metrics["perplexity"]
    truth = marginal_effects(codes, ppl, space)
    true_top = top_decision(codes, ppl, space)
    print(
        f"HW-GPT-Bench S, perplexity: importance from 100-query random searches against the "
        f"whole table ({len(truth)} (decision, choice) effects; true top decision {true_top})\n"
    )
    importance_rows(space, evaluator, "perplexity", "min", (truth, true_top), args.seeds)


def part_importance_nb301(args: argparse.Namespace) -> None:
    space, surrogate = nb301_parts("darts", {}, {}, args.benchmarks / "nb301_surrogate")
    rng = np.random.default_rng(54321)
    started = time.perf_counter()
    archs = [space.sample(rng) for _ in range(args.truth_genotypes)]
    genotypes = [space.to_genotype(a) for a in archs]
    accuracy = np.concatenate(
        [
            100.0 * surrogate.predict(genotypes[i : i + 5000])[:, 0]
            for i in range(0, len(genotypes), 5000)
        ]
    )
    codes = DecisionForest(space).rows(archs)
    truth = marginal_effects(codes, accuracy, space)
    true_top = top_decision(codes, accuracy, space)
    spread = statistics.pstdev(truth.values())
    print(
        f"NAS-Bench-301 surrogate, valid_acc (%) at epoch 98: importance from {args.trials}-query "
        f"random searches against {len(archs)} random genotypes "
        f"({time.perf_counter() - started:.0f} s to draw and predict): {len(truth)} "
        f"(decision, choice) effects, their SD {spread:.3f} points, largest "
        f"{max(abs(v) for v in truth.values()):.3f}; true top decision {true_top}\n"
    )
    importance_rows(
        space, surrogate, "valid_acc", "max", (truth, true_top), args.seeds, args.trials
    )


PARTS = {
    "nb301": part_nb301,
    "hwgpt": part_hwgpt,
    "hwgpt-pareto": part_hwgpt_pareto,
    "nb201": part_nb201,
    "importance": part_importance,
    "importance-nb301": part_importance_nb301,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--slow-seeds", type=int, default=5, help="for reinforce and bayesian")
    parser.add_argument("--random-genotypes", type=int, default=10_000)
    parser.add_argument(
        "--truth-genotypes", type=int, default=100_000, help="importance-nb301's truth"
    )
    parser.add_argument(
        "--trials", type=int, default=100, help="importance-nb301: queries per random search"
    )
    parser.add_argument(
        "--only", nargs="+", default=None, help="run these rows only (labels, e.g. random tpe)"
    )
    args = parser.parse_args()
    global ONLY
    ONLY = args.only
    for name, part in PARTS.items():
        if args.part in (name, "all"):
            part(args)


if __name__ == "__main__":
    main()
