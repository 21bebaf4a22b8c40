"""`Arch`: exact text and JSON round trips, value semantics, immutability, clear errors."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from nasforge.arch import Arch
from nasforge.errors import ArchError

# Strings that read back as something else, or that need quoting, if written carelessly.
TRICKY_STRINGS = [
    "1",
    "-1",
    "+1",
    "1.0",
    "1e-5",
    "1_000",
    ".5",
    "0x10",
    "true",
    "false",
    "True",
    "FALSE",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "null",
    "",
    " ",
    " padded ",
    "a,b",
    "a=b",
    "k=v,k2=v2",
    '"',
    'say "hi"',
    "it's",
    "back\\slash",
    "trailing\\",
    "tab\tinside",
    "über",
    "日本語",
    "emoji 🙂",
    "[1, 2]",
    "{}",
    "-",
    "_",
    "e5",
    "x~1|y+z",
    "a.b:c/d-e",
    "conv3x3",
]
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/-"
STRING_CHARS = "ab1-_.,=\"' \\\tü日~|+:/e"


def random_choice(rng: np.random.Generator) -> str | int | float | bool:
    kind = int(rng.integers(5))
    if kind == 0:
        return TRICKY_STRINGS[int(rng.integers(len(TRICKY_STRINGS)))]
    if kind == 1:
        return "".join(rng.choice(list(STRING_CHARS), size=int(rng.integers(0, 8))))
    if kind == 2:
        return int(rng.integers(-(10**12), 10**12))
    if kind == 3:
        return float(rng.normal() * 10.0 ** int(rng.integers(-12, 12)))
    return bool(rng.integers(2))


def random_label(rng: np.random.Generator) -> str:
    first = "abcxyzABC_"[int(rng.integers(10))]
    return first + "".join(rng.choice(list(LABEL_CHARS), size=int(rng.integers(0, 6))))


def random_archs(count: int, seed: int = 0) -> list[Arch]:
    rng = np.random.default_rng(seed)
    archs = []
    for _ in range(count):
        choices = {random_label(rng): random_choice(rng) for _ in range(int(rng.integers(0, 7)))}
        archs.append(Arch(choices))
    return archs


GENERATED = random_archs(400)
SPECIAL_NUMBERS = [0, -7, 2**70, 0.0, -0.0, 1.0, 1e-5, -2.5, 1e300, 5e-324, 1 / 3, True, False]


def assert_same_typed_choices(first: Arch, second: Arch) -> None:
    assert list(first.items()) == list(second.items())
    assert [type(v) for v in first.values()] == [type(v) for v in second.values()]


# -- text form ------------------------------------------------------------------------------


def test_text_form_of_the_documented_example() -> None:
    arch = Arch({"depth": 3, "op": "conv3x3", "lr": 0.01})
    assert str(arch) == "depth=3,op=conv3x3,lr=0.01"
    assert repr(arch) == "Arch('depth=3,op=conv3x3,lr=0.01')"


@pytest.mark.parametrize(
    ("choice", "text"),
    [
        ("conv", "x=conv"),
        ("1", 'x="1"'),
        ("true", 'x="true"'),
        ("a,b", 'x="a,b"'),
        ("", 'x=""'),
        (True, "x=true"),
        (1, "x=1"),
        (1.0, "x=1.0"),
        (1e-5, "x=1e-05"),
    ],
)
def test_strings_are_quoted_exactly_when_they_would_read_back_differently(
    choice: str | int | float | bool, text: str
) -> None:
    assert str(Arch({"x": choice})) == text


@pytest.mark.parametrize("choice", TRICKY_STRINGS, ids=repr)
def test_text_round_trip_of_tricky_strings(choice: str) -> None:
    arch = Arch({"first": choice, "second": choice, "third": 1})
    back = Arch.parse(str(arch))
    assert back == arch
    assert back["first"] == choice and type(back["first"]) is str


@pytest.mark.parametrize("choice", SPECIAL_NUMBERS, ids=repr)
def test_text_round_trip_of_numbers_and_bools(choice: int | float | bool) -> None:
    arch = Arch({"v": choice, "w": "x"})
    assert_same_typed_choices(Arch.parse(str(arch)), arch)


def test_text_round_trip_of_generated_archs() -> None:
    failures = [(a, str(a)) for a in GENERATED if Arch.parse(str(a)) != a]
    assert failures == []
    for arch in GENERATED:
        assert_same_typed_choices(Arch.parse(str(arch)), arch)


def test_empty_arch_round_trips() -> None:
    assert str(Arch()) == ""
    assert Arch.parse("") == Arch() == Arch({})
    assert Arch.parse("   ") == Arch()


def test_parse_tolerates_spaces_around_labels_and_choices() -> None:
    assert Arch.parse(" a = 1 , b = x ") == Arch({"a": 1, "b": "x"})


@pytest.mark.parametrize("choice", ["abc\n", "x~1|y\n"], ids=repr)
def test_text_round_trip_of_string_with_trailing_newline(choice: str) -> None:
    arch = Arch({"x": choice, "y": 1})
    assert Arch.parse(str(arch)) == arch


def test_label_with_trailing_newline_is_rejected() -> None:
    with pytest.raises(ArchError, match="invalid decision label"):
        Arch({"a\n": 1})


# -- JSON -----------------------------------------------------------------------------------


def test_json_round_trip_of_generated_archs() -> None:
    for arch in [*GENERATED, Arch({f"n{i}": v for i, v in enumerate(SPECIAL_NUMBERS)})]:
        back = Arch.from_json(arch.to_json())
        assert_same_typed_choices(back, arch)


def test_json_is_an_ordered_object() -> None:
    arch = Arch({"b": 1, "a": "x", "c": 0.5, "d": False})
    assert json.loads(arch.to_json()) == {"b": 1, "a": "x", "c": 0.5, "d": False}
    assert list(json.loads(arch.to_json())) == ["b", "a", "c", "d"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('"a=1"', "must be an object"),
        ('{"a": [1]}', "must be a string, integer, float or boolean"),
        ('{"a": null}', "must be a string, integer, float or boolean"),
        ('{"a": {"b": 1}}', "must be a string, integer, float or boolean"),
        ('{"a": NaN}', "must be finite"),
        ('{"1a": 1}', "invalid decision label"),
    ],
)
def test_from_json_errors(text: str, problem: str) -> None:
    with pytest.raises(ArchError, match=problem) as info:
        Arch.from_json(text)
    assert "\n" not in str(info.value)


# -- value semantics ------------------------------------------------------------------------


def test_one_one_point_oh_and_true_are_different_choices() -> None:
    archs = [Arch({"x": 1}), Arch({"x": 1.0}), Arch({"x": True}), Arch({"x": "1"})]
    for i, first in enumerate(archs):
        for second in archs[i + 1 :]:
            assert first != second
    assert len(set(archs)) == 4
    assert len({str(a) for a in archs}) == 4
    zeros = [Arch({"x": 0}), Arch({"x": 0.0}), Arch({"x": False})]
    assert len(set(zeros)) == 3


def test_equal_archs_hash_equal() -> None:
    for arch in GENERATED:
        twin = Arch(dict(arch.items()))
        assert twin == arch and hash(twin) == hash(arch)
    lookup = {arch: i for i, arch in enumerate(GENERATED)}
    assert all(GENERATED[lookup[Arch.parse(str(a))]] == a for a in GENERATED)


def test_label_order_matters() -> None:
    first = Arch({"a": 1, "b": 2})
    second = Arch({"b": 2, "a": 1})
    assert first != second
    assert list(first) == ["a", "b"] and list(second) == ["b", "a"]
    assert str(second) == "b=2,a=1"


def test_mapping_interface() -> None:
    arch = Arch({"a": 1, "b": "x"})
    assert arch["b"] == "x"
    assert len(arch) == 2 and "a" in arch and "c" not in arch
    assert dict(arch) == {"a": 1, "b": "x"}
    with pytest.raises(KeyError):
        arch["c"]


def test_arch_is_immutable() -> None:
    arch = Arch({"a": 1})
    with pytest.raises(AttributeError, match="immutable"):
        arch._items = (("a", 2),)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        arch.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        arch["a"] = 2  # type: ignore[index]
    assert arch == Arch({"a": 1})


def test_arch_attributes_cannot_be_deleted() -> None:
    arch = Arch({"a": 1})
    with pytest.raises(AttributeError):
        del arch._items


def test_replace_returns_changed_copy_in_label_order() -> None:
    arch = Arch({"a": 1, "b": "x", "c": 0.5})
    changed = arch.replace(c=0.25, a=2)
    assert changed == Arch({"a": 2, "b": "x", "c": 0.25})
    assert list(changed) == ["a", "b", "c"]
    assert arch == Arch({"a": 1, "b": "x", "c": 0.5})
    assert arch.replace(a=1.0) != arch
    assert arch.replace() == arch


def test_replace_errors() -> None:
    arch = Arch({"a": 1})
    with pytest.raises(ArchError, match=r"unknown decision.*zz"):
        arch.replace(zz=1)
    with pytest.raises(ArchError, match="must be a string"):
        arch.replace(a=[1])  # type: ignore[arg-type]
    with pytest.raises(ArchError, match="finite"):
        arch.replace(a=float("inf"))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int) -> None:
    for arch in GENERATED[:100]:
        back = pickle.loads(pickle.dumps(arch, protocol=protocol))
        assert_same_typed_choices(back, arch)
        assert hash(back) == hash(arch)


@pytest.mark.parametrize(("numpy_value", "plain"), [(np.float64(0.5), 0.5), (np.str_("x"), "x")])
def test_numpy_scalar_choices_equal_plain_python_values(
    numpy_value: float | str, plain: float | str
) -> None:
    arch = Arch({"a": numpy_value})
    assert str(arch) == str(Arch({"a": plain}))
    assert arch == Arch({"a": plain})
    assert Arch.parse(str(arch)) == arch


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a", "expected label=choice"),
        ("=x", "expected label=choice"),
        ("a=1,", "expected label=choice"),
        (",a=1", "expected label=choice"),
        ("a=1,a=2", "'a' appears twice"),
        ('a="x', "unterminated quoted choice"),
        ('a="\\"', "unterminated quoted choice"),
        ('a="x"y', "bad quoted choice"),
        ("a=", "bad choice ''"),
        ("a=b=c", "bad choice 'b=c'"),
        ("a=x y", "bad choice 'x y'"),
        ("a=[1]", "bad choice"),
        ("1a=2", "invalid decision label '1a'"),
        ("a b=1", "invalid decision label 'a b'"),
        ("é=1", "invalid decision label"),
        ("a=nan", "must be finite"),
        ("a=-inf", "must be finite"),
        ('a="x\ny"', "bad quoted choice"),
    ],
)
def test_malformed_text_raises_one_line_arch_error(text: str, problem: str) -> None:
    with pytest.raises(ArchError) as info:
        Arch.parse(text)
    message = str(info.value)
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=str)
def test_non_finite_floats_are_rejected(value: float) -> None:
    with pytest.raises(ArchError, match="'a' must be finite"):
        Arch({"a": value})


@pytest.mark.parametrize(
    "value", [None, [1], (1,), {"b": 1}, b"bytes", 1j, {1}], ids=lambda v: type(v).__name__
)
def test_non_scalar_choices_are_rejected(value: object) -> None:
    with pytest.raises(ArchError, match=f"choice for 'a' must be.*not {type(value).__name__}"):
        Arch({"a": value})  # type: ignore[dict-item]


@pytest.mark.parametrize("label", ["", "1a", "a b", "a=b", "a,b", "é", '"a"', 3])
def test_bad_labels_are_rejected(label: object) -> None:
    with pytest.raises(ArchError, match="invalid decision label"):
        Arch({label: 1})  # type: ignore[dict-item]


def test_arch_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Arch.parse("a")
