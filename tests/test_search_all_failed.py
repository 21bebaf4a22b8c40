"""A search in which every trial fails ends with one line naming the first error and exit
code 1 (a script must not take it for a finished search), and its trials stay in the store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.search_finish import failure_line
from nasforge.run.storage import Store
from nasforge.run.store_records import TrialRecord
from nasforge.status import Status

runner = CliRunner()


def _trial(number: int, status: Status, error: str | None = None) -> TrialRecord:
    return TrialRecord(
        number=number, arch="a", budget=None, status=status, created_seq=number, error=error
    )


class _Result:
    def __init__(self, trials: list[TrialRecord]) -> None:
        self.trials = trials


def test_failure_line_only_when_no_evaluated_trial_succeeded() -> None:
    failed = [_trial(0, Status.DIVERGED), _trial(1, Status.FAILED, "out of memory")]
    line = failure_line(_Result(failed))
    assert line is not None
    assert "every one of the 2 trials failed" in line
    assert "trial 1: out of memory" in line
    assert failure_line(_Result([*failed, _trial(2, Status.OK)])) is None
    assert failure_line(_Result([])) is None
    assert failure_line(_Result([_trial(0, Status.RUNNING)])) is None


def test_a_search_whose_every_trial_fails_exits_1_and_keeps_its_trials(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    args = ["search", "--budget", "2", "--epochs", "1", "--time-limit", "0.001"]
    result = runner.invoke(app, [*args, "--final-epochs", "0", "--store", str(store)])
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("every one of the 2 trials failed"), result.stderr
    assert "time limit of 0.001 s" in last
    assert "Traceback" not in result.stderr
    with Store(store) as journal:
        (experiment,) = journal.experiments()
        trials = journal.trials(experiment.id)
    assert [t.status for t in trials] == [Status.FAILED, Status.FAILED]
