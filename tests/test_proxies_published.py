"""Differential test: our synflow against NAS-Bench-Suite-Zero's published synflow scores."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from nasforge.proxies import ProxyBatch
from nasforge.proxies.correlation import spearman
from nasforge.proxies.scoring import score_archs
from nasforge.space import NB201Space


@pytest.mark.slow
def test_synflow_ranks_the_connected_cells_like_nas_bench_suite_zero(zc_csv_path: Path) -> None:
    with gzip.open(zc_csv_path, "rt", newline="") as handle:
        published = {
            row["arch"]: float(row["synflow_cifar10"])
            for row in csv.DictReader(handle)
            if row["synflow_cifar10"] not in ("", "nan")
        }
    assert len(published) == 9445  # the cells NAS-Bench-Suite-Zero scored
    space = NB201Space()  # C=16, N=5: the network NAS-Bench-Suite-Zero scored
    archs = [space.parse(text) for text in published]
    ours = score_archs(space, archs, ["synflow"], ProxyBatch((3, 32, 32), 10)).scores["synflow"]
    assert spearman(ours, list(published.values())) >= 0.9
