"""Each method's defaults are its paper's (issue 32), and what departs is listed in
``nasforge oneshot --help``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data import load_digits_task
from nasforge.oneshot import METHODS, OneShotError, make_method
from nasforge.space import make_space

runner = CliRunner()
SPACE = make_space("nb201", channels=8, cells_per_stage=1)


def test_pc_darts_defaults_are_the_papers() -> None:
    method = make_method("pc-darts", SPACE)
    assert method.arch_lr == 6e-4 and method.partial_channels == 4
    assert method.arch_weight_decay == 1e-3
    assert method._warmup(50) == 15  # architecture steps from epoch 15 of 50
    assert method._warmup(10) == 3  # scaled to the epochs given
    assert make_method("pc-darts", SPACE, warmup_epochs=0)._warmup(50) == 0
    assert make_method("darts", SPACE)._warmup(50) == 0  # DARTS has no warm-up


def test_beta_darts_schedule_is_the_reference_codes() -> None:
    method = make_method("beta-darts", SPACE)
    assert (method.lambda_max, method.lambda_epochs) == (50.0, 100)  # 50 * epoch / 100
    method.epochs_ = 50
    method.on_epoch_start(49, None)  # type: ignore[arg-type]
    assert method.lambda_ == pytest.approx(24.5)
    with pytest.raises(OneShotError, match="lambda_epochs must be >= 1"):
        make_method("beta-darts", SPACE, lambda_epochs=0)


def test_every_method_lists_its_departures_in_help() -> None:
    result = runner.invoke(app, ["oneshot", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Departures from the papers:" in text
    for name in METHODS:
        assert f"{name}: " in text.split("Departures from the papers:")[1], name
    assert "eta_min 0.001" in text and "lambda_epochs" in text
    # fixed departures are no longer listed (issue 32): cosine to 0, unaugmented
    # architecture batches, SPOS's and ENAS's supernet on half the data
    assert "cosine to 0 (" not in text and "not augmented" not in text
    assert "half the training data" not in text and "validation set of 0.1" in text


def test_enas_and_spos_departures_state_our_defaults_beside_the_authors_code() -> None:
    # the references, read in the authors' code: melodyguan/enas
    # scripts/cifar10_micro_search.sh and src/cifar10/data_utils.py; megvii-model/
    # SinglePathOneShot src/Supernet/train.py and src/Search/search.py
    result = runner.invoke(app, ["oneshot", "--help"], env={"COLUMNS": "400"})
    text = " ".join(result.output.split()).split("Departures from the papers:")[1]
    enas_text = text.split("; enas: ")[1].split("; spos: ")[0]
    spos_text = text.split("; spos: ")[1]
    enas = make_method("enas", SPACE)
    spos = make_method("spos", SPACE)
    for method, said in ((enas, enas_text), (spos, spos_text)):
        assert method.default_arch_share == 0.1 and "validation set of 0.1" in said
        assert f"lr {method.lr:g} cosine to {method.eta_min:g}" in said
        decay = f"{method.weight_decay:.0e}".replace("e-0", "e-")  # 3e-4
        assert f"weight decay {decay}" in said
    controller_lr = f"{enas.controller_lr:.0e}".replace("e-0", "e-")
    ours = f"controller lr {controller_lr}, {enas.controller_steps} steps of "
    assert ours + f"{enas.controller_aggregate} paths" in enas_text
    assert "5,000 of 50,000" in enas_text and "(code 3.5e-3, 30 of 10)" in enas_text
    assert "0.05 to 0.0005 cosine with warm restarts" in enas_text
    assert "weight decay 1e-4" in enas_text
    assert f"{spos.population_size} for {spos.generations} generations" in spos_text
    assert "lr 0.5 at batch 1024 decayed linearly to 0" in spos_text
    assert "weight decay 4e-5" in spos_text and "label smoothing 0.1" in spos_text
    assert "50 for 20 generations" in spos_text


def test_a_bad_lambda_epochs_is_one_line_and_exit_2() -> None:
    result = runner.invoke(
        app, ["oneshot", "--method", "beta-darts", "-o", "lambda_epochs=0", "--epochs", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "lambda_epochs must be >= 1" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_darts_and_gdas_anneal_to_eta_min_pc_darts_to_0() -> None:
    for name in ("darts", "darts2", "gdas", "beta-darts"):
        assert make_method(name, SPACE).eta_min == 0.001, name
    assert make_method("pc-darts", SPACE).eta_min == 0.0  # its train_search.py: 0
    assert make_method("darts", SPACE, eta_min=0.0).eta_min == 0.0
    with pytest.raises(OneShotError, match=r"eta_min must lie in \[0, lr\] = \[0, 0.0005\]"):
        make_method("darts", SPACE, lr=5e-4)


def test_a_search_ends_its_weight_schedule_at_eta_min() -> None:
    method = make_method("gdas", SPACE)
    method.search(load_digits_task(seed=0), epochs=1, batch_size=128, seed=0, threads=1)
    optimizer = method.trainer_.optimizer
    assert optimizer is not None
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001, abs=1e-12)


def test_a_bad_eta_min_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["oneshot", "-o", "eta_min=0.5", "--epochs", "1"])
    assert result.exit_code == 2, result.output
    assert "eta_min must lie in [0, lr] = [0, 0.025], not 0.5" in result.output
    assert len(result.output.strip().splitlines()) == 1
