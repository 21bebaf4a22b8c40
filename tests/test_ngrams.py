"""The `ngrams` space (fastText's bag of n-grams): the bags, the average against a reference,
a search with --space ngrams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.errors import SpaceError
from nasforge.space import make_space
from nasforge.space.text.ngrams_net import HASH_MULTIPLIER

runner = CliRunner()


def test_bags_hold_words_and_hashed_bigrams_without_padding() -> None:
    space = make_space("ngrams", vocab_size=20, buckets=50)
    two = space.build(Arch.parse("embed_dim=16,ngrams=2,hidden=0,dropout=0.0"), (4,), 3)
    one = space.build(Arch.parse("embed_dim=16,ngrams=1,hidden=0,dropout=0.0"), (4,), 3)
    x = torch.tensor([[5.0, 7.0, 0.0, 0.0], [3.0, 99.0, 4.0, 6.0]])
    pair = 20 + (5 * HASH_MULTIPLIER + 7) % 50
    assert two.bags(x)[0].tolist() == [5, 7, 0, 0, pair, 0, 0]
    assert two.bags(x)[1, :4].tolist() == [3, 1, 4, 6]  # 99 is outside the vocabulary
    assert one.bags(x).tolist() == [[5, 7, 0, 0], [3, 1, 4, 6]]
    # the bag is the mean of its rows, padding not counted
    rows = two.embedding.weight
    expected = (rows[5] + rows[7] + rows[pair]) / 3
    torch.testing.assert_close(two.embedding(two.bags(x))[0], expected)


def test_bad_ngrams_options_are_named() -> None:
    with pytest.raises(SpaceError, match="ngrams must be 1"):
        make_space("ngrams", vocab_size=20, ngrams=[3])
    with pytest.raises(SpaceError, match="needs token ids"):
        make_space("ngrams", vocab_size=20).check_input((1, 8, 8))


def test_a_text_search_of_the_ngrams_space(tmp_path: Path) -> None:
    lines = [
        f"{'who what' if i % 2 else 'the big'} w{i % 7} v{i % 3},{'qs'[i % 2]}" for i in range(160)
    ]
    data = tmp_path / "texts.csv"
    data.write_text("text,label\n" + "\n".join(lines) + "\n")
    args = ["search", "--task", "text", "--data", str(data), "--space", "ngrams", "--budget",
            "2", "--epochs", "2", "--final-epochs", "2", "--threads", "1", "--workers", "1",
            "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["final"]["test_accuracy"] > 90.0
    assert payload["baseline"]["arch"] == "tf-idf word 1-2 grams + linear SVM"
