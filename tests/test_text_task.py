"""Text tasks: the three file formats, the tokenizer, the textconv space and its supernet,
search and predict from the CLI, and bad input (slices of the real TREC files)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.data.task import DataError
from nasforge.data.text import PAD, UNKNOWN, Tokenizer, load_text_task, read_text_file
from nasforge.space import make_space

runner = CliRunner()
SLICE = 300  # questions of the training file used here


@pytest.fixture(scope="module")
def trec_train() -> Path:
    return shared_file("NASFORGE_DATA", "data", "trec", "train_5500.label")


def _trec_slice(trec_train: Path, folder: Path, count: int = SLICE) -> Path:
    lines = trec_train.read_bytes().decode("latin-1").splitlines()[:count]
    target = folder / "trec_slice.label"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def test_the_three_formats_read_the_same_examples(trec_train: Path, tmp_path: Path) -> None:
    trec = _trec_slice(trec_train, tmp_path, 80)
    examples = read_text_file(trec)
    pairs = list(zip(examples.texts, examples.labels, strict=True))
    with (tmp_path / "same.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        writer.writerows((lab, t) for t, lab in pairs)
    (tmp_path / "same.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in pairs)
    )
    (tmp_path / "same.txt").write_text("".join(f"__label__{lab} {t}\n" for t, lab in pairs))
    for other in ("same.csv", "same.tsv", "same.txt"):
        assert read_text_file(tmp_path / other) == examples
    assert examples.labels[:3] == ("DESC", "ENTY", "DESC")
    assert examples.texts[0] == "How did serfdom develop in and then leave Russia ?"
    fine = read_text_file(trec, fine=True)
    assert fine.labels[:2] == ("DESC:manner", "ENTY:cremat")


def test_the_tokenizer_numbers_the_training_tokens_by_frequency() -> None:
    tokenizer = Tokenizer.build(["The cat sat .", "the dog sat", "A cat !"], max_length=5)
    assert tokenizer.vocabulary[:2] == (PAD, UNKNOWN)
    # by count (the, cat, sat twice), then alphabetically
    assert tokenizer.vocabulary[2:] == ("cat", "sat", "the", "!", ".", "a", "dog")
    ids = tokenizer.encode(["the cat flew away over the dog", "sat"])
    assert ids.shape == (2, 5) and ids.dtype == np.float32
    assert ids[0].tolist() == [4, 2, 1, 1, 1]  # cut at 5; flew, away, over unknown
    assert ids[1].tolist() == [3, 0, 0, 0, 0]  # padded
    assert tokenizer.decode(ids[1]) == ["sat"]
    assert tokenizer.decode(tokenizer.encode(["The cat sat ."])[0]) == ["the", "cat", "sat", "."]
    assert Tokenizer.from_dict(json.loads(json.dumps(tokenizer.to_dict()))) == tokenizer
    assert tokenizer.unknown_share(["the zebra"]) == 0.5


def test_character_tokens_and_a_vocabulary_limit() -> None:
    tokenizer = Tokenizer.build(["ab  ba", "abc"], unit="char", max_vocabulary=4)
    assert tokenizer.vocabulary == (PAD, UNKNOWN, "a", "b")
    assert tokenizer.decode(tokenizer.encode(["a c"])[0]) == ["a", UNKNOWN, UNKNOWN]
    assert tokenizer.max_length == 5  # "ab ba": whitespace runs are one space


def test_a_text_task_learns_its_vocabulary_from_the_training_split_only(
    trec_train: Path, tmp_path: Path
) -> None:
    trec = _trec_slice(trec_train, tmp_path)
    task = load_text_task(trec, seed=3)
    again = load_text_task(trec, seed=3)
    assert task.preprocessing == again.preprocessing
    np.testing.assert_array_equal(task.x_train, again.x_train)
    tokenizer = Tokenizer.from_dict(task.preprocessing or {})
    train_tokens = {t for row in task.x_train for t in tokenizer.decode(row)}
    valid_only = {t for row in task.x_valid for t in tokenizer.decode(row)} - train_tokens
    assert valid_only <= {UNKNOWN}
    assert task.vocabulary_size == len(tokenizer.vocabulary)
    assert task.class_names is not None and "DESC" in task.class_names
    assert task.input_shape == (tokenizer.max_length,)


def test_textconv_children_equal_their_supernet_paths() -> None:
    space = make_space("textconv", vocab_size=40)
    supernet = space.supernet((12,), 6, affine=True).eval()
    x = torch.randint(0, 40, (5, 12)).float()
    rng = np.random.default_rng(0)
    for _ in range(6):
        arch = space.sample(rng)
        supernet.use_path(arch)
        child = supernet.child(arch).eval()
        torch.testing.assert_close(supernet(x), child(x))
    kim = make_space("textconv", vocab_size=7963).build(
        make_space("textconv", vocab_size=7963).parse("kim2014"), (37,), 6
    )
    # embedding 7963 x 300, windows 3, 4, 5 x 100 filters, linear 300 -> 6
    expected = 7963 * 300 + sum(300 * 100 * k + 100 for k in (3, 4, 5)) + 300 * 6 + 6
    assert sum(p.numel() for p in kim.parameters()) == expected


def test_search_saves_a_text_model_that_predicts_text_lines(
    trec_train: Path, tmp_path: Path
) -> None:
    trec = _trec_slice(trec_train, tmp_path)
    args = ["search", "--task", "text", "--data", str(trec), "--budget", "2", "--epochs", "1",
            "-s", "embed_dims=[16]", "-s", "widths=[0,8]", "--final-epochs", "1",
            "--out", "best", "--threads", "1"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    record = json.loads((tmp_path / "best" / "arch.json").read_text())
    assert record["preprocessing"]["kind"] == "text"
    assert record["space"]["name"] == "textconv"
    assert record["space"]["params"]["vocab_size"] == len(record["preprocessing"]["vocabulary"])
    (tmp_path / "questions.txt").write_text("Who wrote Hamlet ?\n\nWhat is a zebra ?\n")
    predicted = runner.invoke(app, ["predict", "best", "--data", "questions.txt", "--json"])
    assert predicted.exit_code == 0, predicted.output
    labels = json.loads(predicted.stdout)["predictions"]
    assert len(labels) == 3 and set(labels) <= set(record["class_names"])  # the blank line too
    # the same seed: the same trials
    again_args = [*args[:-3], "best2", "--threads", "1", "--store", "again.sqlite"]
    again = runner.invoke(app, again_args)
    assert again.exit_code == 0, again.output
    assert _archs(tmp_path / "nasforge.sqlite") == _archs(tmp_path / "again.sqlite")


def _archs(store: Path) -> list[str]:
    from nasforge.run.storage import Store

    with Store(store) as journal:
        (experiment,) = journal.experiments()
        return [t.arch for t in journal.trials(experiment.id)]


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("", [], "is empty"),
        ("DESC:manner How did it go ?\nno label on this line\n", [], "line 2 is not"),
        ("__label__a one\nanother line\n", [], "line 2 is not"),
        ("label,words\nA,some text\n", ["--suffix", ".csv"], "no column 'text'"),
        (
            "text,label\nsome text,A\n",
            ["--suffix", ".csv", "--label-column", "kind"],
            "no column 'kind'",
        ),
        ("Just a sentence.\n", [], "cannot tell the format"),
    ],
)
def test_bad_text_files_are_one_line_and_write_nothing(
    tmp_path: Path, content: str, extra: list[str], message: str
) -> None:
    suffix = ".txt"
    if "--suffix" in extra:
        at = extra.index("--suffix")
        suffix, extra = extra[at + 1], extra[:at] + extra[at + 2 :]
    data = tmp_path / f"bad{suffix}"
    data.write_text(content)
    result = runner.invoke(app, ["search", "--task", "text", "--data", str(data), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "nasforge.sqlite").exists()


def test_text_options_need_the_text_task() -> None:
    result = runner.invoke(app, ["search", "--task", "digits", "--fine"])
    assert result.exit_code == 2
    assert "--fine apply to --task text" in result.output
    with pytest.raises(DataError, match="needs a file"):
        from nasforge.data.loaders import load_task

        load_task("text")


def test_a_one_hot_transformer_supernet_equals_its_child() -> None:
    space = make_space("transformer", vocab_size=60)
    torch.manual_seed(0)
    supernet = space.supernet((10,), 6).eval()
    x = torch.randint(0, 60, (4, 10)).float()
    x[:, 7:] = 0  # padding
    rng = np.random.default_rng(1)
    for _ in range(5):  # single paths: smaller widths, heads and depths share the weights
        arch = space.sample(rng)
        supernet.use_path(arch)
        torch.testing.assert_close(supernet(x), supernet.child(arch).eval()(x))
    largest = {
        d.label: max(d.choices) for d in space.decisions if not d.label.endswith("_activation")
    }
    arch = space.validate(space.sample(rng).replace(**largest))
    weights = {}
    for decision in space.op_decisions():
        one_hot = torch.zeros(len(decision.choices))
        one_hot[decision.index(arch[decision.label])] = 1.0
        weights[decision.label] = one_hot
    supernet.use_weights(weights)  # mixed mode, one-hot activations
    torch.testing.assert_close(supernet(x), supernet.child(arch).eval()(x))


def test_transformer_ignores_padding() -> None:
    space = make_space("transformer", vocab_size=60)
    arch = space.sample(np.random.default_rng(2))
    net = space.build(arch, (12,), 3).eval()
    padded = torch.zeros(1, 12)
    padded[0, :5] = torch.tensor([5.0, 9.0, 13.0, 2.0, 7.0])
    # the same text without its padding: masking makes the 7 padded positions count for nothing
    torch.testing.assert_close(net(padded), net(padded[:, :5]))
    assert not torch.allclose(net(padded), net(padded[:, :4]))
    assert space.canonical(arch) == arch
    assert all(
        arch[f"layer{i}_heads"] == space.heads[0]
        for i in range(int(arch["depth"]), max(space.depths))
    )


def test_spos_searches_transformers_within_a_parameter_limit(
    trec_train: Path, tmp_path: Path
) -> None:
    from nasforge.oneshot import make_method
    from nasforge.oneshot.path_limits import PathParams

    task = load_text_task(_trec_slice(trec_train, tmp_path), max_length=16)
    space = make_space("transformer", vocab_size=task.vocabulary_size or 0)
    limit = PathParams(space, task.input_shape, task.num_classes, 10**9)
    rng = np.random.default_rng(0)
    counts = sorted(limit.count(space.sample(rng)) or 0 for _ in range(40))
    cap = counts[len(counts) // 4]  # a quarter of random sub-networks fit
    searcher = make_method(
        "spos", space, max_params=cap, population_size=6, sample_size=3, generations=2
    )
    result = searcher.search(task, epochs=1, batch_size=32)
    found = sum(p.numel() for p in result.child().parameters())
    assert found <= cap
    assert found == PathParams(space, task.input_shape, task.num_classes, cap).count(result.arch)


def test_one_shot_weights_can_train_with_adamw() -> None:
    from nasforge.oneshot import make_method
    from nasforge.oneshot.errors import OneShotError

    space = make_space("transformer", vocab_size=30)
    assert make_method("spos", space, optimizer="adamw").optimizer == "adamw"
    with pytest.raises(OneShotError, match="'sgd' or 'adamw'"):
        make_method("spos", space, optimizer="adam")
