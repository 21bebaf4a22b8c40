"""Text tasks: labelled text files, a tokenizer built from the training split, and texts as
fixed-length arrays of token ids.

Three file formats, told apart by the file (or given as ``text_format``):

- ``csv`` / ``tsv`` (by extension): a header row, the text in ``text_column`` and the label
  in ``label_column``;
- ``fasttext``: one example a line, ``__label__NAME text`` (the first label if several);
- ``trec``: one example a line, ``COARSE:fine text`` (TREC question classification, read as
  latin-1 as distributed); the 6 coarse classes by default, ``fine=True`` for the 50 fine
  ones (named ``COARSE:fine``).

The tokenizer (`Tokenizer`) splits lowercased text into words (runs of letters, digits and
apostrophes; every other non-space character is a token of its own) or into characters,
and numbers the training split's tokens by frequency (ties alphabetically): id 0 is
padding, id 1 every token it has not seen. A text becomes ``max_length`` ids, cut at the
end or padded with zeros. Nothing is downloaded: no vocabulary, no embeddings.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from nasforge.data.groups import held_out_split
from nasforge.data.task import DataError, Task, make_task

PAD, UNKNOWN = "<pad>", "<unk>"
TEXT_FORMATS = ("csv", "tsv", "fasttext", "trec")
Unit = Literal["word", "char"]
MAX_DEFAULT_LENGTH = 256
"""Without ``max_length``: the longest training text, up to this many tokens."""

_WORD = re.compile(r"[\w']+|[^\w\s]")
_TREC = re.compile(r"^([A-Z]+):(\S+)\s+(.*\S)\s*$")
_FASTTEXT = re.compile(r"^((?:__label__\S+\s+)+)(.*\S)\s*$")


@dataclass(frozen=True)
class TextExamples:
    """Texts and their labels (as written in the file), in file order."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    groups: tuple[str, ...] | None = None
    """A group per example (a table's ``group_column``), else None."""


def detect_format(path: Path) -> str:
    """``csv`` or ``tsv`` by extension, else ``fasttext`` or ``trec`` by the first line."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    first = next((line for line in _lines(path) if line.strip()), None)
    if first is None:
        raise DataError(f"{path} is empty")
    if first.startswith("__label__"):
        return "fasttext"
    if _TREC.match(first):
        return "trec"
    raise DataError(
        f"cannot tell the format of {path}: its first line is neither '__label__NAME text' "
        "(fastText) nor 'COARSE:fine text' (TREC); for a table use a .csv or .tsv file"
    )


def read_text_file(
    path: str | Path,
    *,
    text_format: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    fine: bool = False,
    group_column: str | None = None,
) -> TextExamples:
    """The labelled texts of one file (see the module docstring for the formats), with the
    group of each from ``group_column`` of a csv/tsv table."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"no such text file: {file}")
    kind = text_format or detect_format(file)
    if kind not in TEXT_FORMATS:
        raise DataError(f"unknown text format {kind!r}; choose from {', '.join(TEXT_FORMATS)}")
    if kind in ("csv", "tsv"):
        delimiter = "," if kind == "csv" else "\t"
        examples = _read_table(file, delimiter, text_column, label_column, group_column)
    elif group_column is not None:
        raise DataError(
            f"a group column ({group_column!r}) needs a csv or tsv table; {file} holds {kind} lines"
        )
    else:
        examples = _read_lines(file, kind, fine)
    if not examples.texts:
        raise DataError(f"{file} holds no examples")
    return examples


def read_text_lines(path: str | Path) -> list[str]:
    """The texts of a file with one text a line, to predict: every line, in order, so that
    output row N is line N; a blank line is an empty text (predicted like any other).

    The file must be UTF-8 text: bytes that are not UTF-8, or a NUL byte (a .npz, a
    .safetensors, any binary file), are a `DataError` naming the file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"no such text file: {file}")
    data = file.read_bytes()
    where = data.find(b"\0")
    if where >= 0:
        raise DataError(
            f"{file} is not a text file (a NUL byte at byte {where}); a text model predicts "
            "a UTF-8 text file, one text a line"
        )
    try:
        texts = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{file} is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); a text "
            "model predicts a UTF-8 text file, one text a line"
        ) from None
    if not texts:
        raise DataError(f"{file} holds no text")
    return texts


def _lines(file: Path) -> list[str]:
    data = file.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return data.decode("latin-1").splitlines()  # TREC as distributed


def _read_lines(file: Path, kind: str, fine: bool) -> TextExamples:
    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(_lines(file), start=1):
        if not line.strip():
            continue
        if kind == "trec":
            match = _TREC.match(line)
            if match is None:
                raise DataError(f"{file} line {number} is not 'COARSE:fine text': {line[:60]!r}")
            coarse, detail, text = match.groups()
            labels.append(f"{coarse}:{detail}" if fine else coarse)
        else:
            match = _FASTTEXT.match(line)
            if match is None:
                raise DataError(f"{file} line {number} is not '__label__NAME text': {line[:60]!r}")
            tags, text = match.groups()
            labels.append(tags.split()[0][len("__label__") :])
        texts.append(text)
    return TextExamples(tuple(texts), tuple(labels))


def _read_table(
    file: Path, delimiter: str, text_column: str, label_column: str, group_column: str | None
) -> TextExamples:
    with file.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{file} is empty; expected a header row")
        header = [column.strip() for column in header]
        for column in (text_column, label_column):
            if column not in header:
                raise DataError(f"{file} has no column {column!r}; columns: {', '.join(header)}")
        if group_column is not None and group_column not in header:
            raise DataError(
                f"{file} has no group column {group_column!r}; columns: {', '.join(header)}"
            )
        text_at, label_at = header.index(text_column), header.index(label_column)
        group_at = None if group_column is None else header.index(group_column)
        texts: list[str] = []
        labels: list[str] = []
        groups: list[str] = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{file} line {number} has {len(row)} fields, the header has {len(header)}"
                )
            if not row[label_at].strip():
                raise DataError(f"{file} line {number} has no label in column {label_column!r}")
            texts.append(row[text_at])
            labels.append(row[label_at].strip())
            if group_at is not None:
                groups.append(row[group_at].strip())
    return TextExamples(
        tuple(texts), tuple(labels), tuple(groups) if group_at is not None else None
    )


@dataclass(frozen=True)
class Tokenizer:
    """Texts to ids with a vocabulary built from training texts (see the module docstring)."""

    vocabulary: tuple[str, ...]
    unit: Unit = "word"
    lowercase: bool = True
    max_length: int = 64

    def __post_init__(self) -> None:
        if self.vocabulary[:2] != (PAD, UNKNOWN):
            raise DataError(f"a vocabulary starts with {PAD} and {UNKNOWN}")
        if self.unit not in ("word", "char"):
            raise DataError(f"tokens are 'word' or 'char', not {self.unit!r}")
        if self.max_length < 1:
            raise DataError(f"max_length must be >= 1, not {self.max_length}")

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        unit: Unit = "word",
        lowercase: bool = True,
        max_length: int | None = None,
        max_vocabulary: int | None = None,
        min_count: int = 1,
    ) -> Tokenizer:
        """The vocabulary of ``texts``: tokens seen at least ``min_count`` times, the most
        frequent first, at most ``max_vocabulary`` entries with padding and unknown."""
        probe = cls((PAD, UNKNOWN), unit, lowercase, 1)
        counts: Counter[str] = Counter()
        longest = 0
        for text in texts:
            tokens = probe.tokens(text)
            counts.update(tokens)
            longest = max(longest, len(tokens))
        if max_vocabulary is not None and max_vocabulary < 3:
            raise DataError(f"max_vocabulary must be >= 3, not {max_vocabulary}")
        frequent = (t for t, n in counts.items() if n >= min_count)
        kept = sorted(frequent, key=lambda t: (-counts[t], t))
        if max_vocabulary is not None:
            kept = kept[: max_vocabulary - 2]
        length = max_length if max_length is not None else min(max(longest, 1), MAX_DEFAULT_LENGTH)
        return cls((PAD, UNKNOWN, *kept), unit, lowercase, length)

    @cached_property
    def ids(self) -> dict[str, int]:
        """Token -> id."""
        return {token: i for i, token in enumerate(self.vocabulary)}

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.unit == "char":
            return list(" ".join(text.split()))
        return _WORD.findall(text)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), max_length)`` token ids (float32, as every task's inputs)."""
        ids = self.ids
        out = np.zeros((len(texts), self.max_length), dtype=np.float32)
        for row, text in enumerate(texts):
            encoded = [ids.get(t, 1) for t in self.tokens(text)[: self.max_length]]
            out[row, : len(encoded)] = encoded
        return out

    def decode(self, ids: Sequence[float]) -> list[str]:
        """The tokens of one row of ids, without padding."""
        return [self.vocabulary[int(i)] for i in ids if int(i) != 0]

    def unknown_share(self, texts: Sequence[str]) -> float:
        """The share of the tokens of ``texts`` (within ``max_length``) out of vocabulary."""
        encoded = self.encode(texts)
        used = encoded[encoded != 0]
        return float(np.mean(used == 1)) if used.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "unit": self.unit,
            "lowercase": self.lowercase,
            "max_length": self.max_length,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        try:
            return cls(
                tuple(str(t) for t in data["vocabulary"]),
                data["unit"],
                bool(data["lowercase"]),
                int(data["max_length"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a saved tokenizer: {type(exc).__name__} {exc}") from None


def load_text_task(
    path: str | Path,
    *,
    test_path: str | Path | None = None,
    text_format: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    fine: bool = False,
    unit: Unit = "word",
    max_length: int | None = None,
    max_vocabulary: int | None = None,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 0,
    name: str | None = None,
    group_column: str | None = None,
) -> Task:
    """A text classification task: the examples of ``path`` (and the test set of
    ``test_path``, else a stratified ``test_fraction`` of them), a validation split of the
    training examples, and a tokenizer built from the training split alone (the task's
    ``preprocessing``). Class ids follow the sorted label names. With ``group_column`` (a
    table's column naming each text's source) the splits drawn here take whole groups."""
    options = {
        "text_format": text_format,
        "text_column": text_column,
        "label_column": label_column,
        "fine": fine,
    }
    examples = read_text_file(path, **options, group_column=group_column)  # type: ignore[arg-type]
    texts, labels = np.array(examples.texts, dtype=object), np.array(examples.labels)
    groups = None if examples.groups is None else np.array(examples.groups)
    if test_path is not None:
        test = read_text_file(test_path, **options)  # type: ignore[arg-type]
        train_texts, train_labels, train_groups = texts, labels, groups
        test_texts, test_labels = np.array(test.texts, dtype=object), np.array(test.labels)
    else:
        class_ids = np.unique(labels, return_inverse=True)[1]
        train_idx, test_idx = held_out_split(class_ids, groups, test_fraction, seed)
        train_texts, train_labels = texts[train_idx], labels[train_idx]
        train_groups = None if groups is None else groups[train_idx]
        test_texts, test_labels = texts[test_idx], labels[test_idx]
    class_names = tuple(sorted(set(train_labels.tolist())))
    if len(class_names) < 2:
        raise DataError(f"{path} has one label ({class_names[0]}); a task needs at least 2")
    unseen = sorted(set(test_labels.tolist()) - set(class_names))
    if unseen:
        raise DataError(
            f"test labels {', '.join(unseen[:3])} do not occur in the training examples"
        )
    index = {label: i for i, label in enumerate(class_names)}
    y_train = np.array([index[label] for label in train_labels], dtype=np.int64)
    y_test = np.array([index[label] for label in test_labels], dtype=np.int64)
    # the vocabulary comes from the examples that train, not those that validate
    fit_idx, _ = held_out_split(y_train, train_groups, valid_fraction, seed)
    tokenizer = Tokenizer.build(
        train_texts[fit_idx].tolist(),
        unit=unit,
        max_length=max_length,
        max_vocabulary=max_vocabulary,
    )
    task = make_task(
        name or Path(path).stem,
        tokenizer.encode(train_texts.tolist()),
        y_train,
        tokenizer.encode(test_texts.tolist()),
        y_test,
        valid_fraction=valid_fraction,
        seed=seed,
        num_classes=len(class_names),
        normalize=False,
        class_names=class_names,
        groups=train_groups,
    )
    return task.with_preprocessing(tokenizer.to_dict())
