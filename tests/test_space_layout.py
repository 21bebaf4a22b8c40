"""`nasforge.space` split by family: the imports the docs and examples show users still
work, and artifacts written before the split, which record module paths of the flat layout
(``nasforge.space.nb201_net:NB201Network``), still load."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.data import load_digits_task
from nasforge.export import load_model, save_model
from nasforge.space import make_space
from nasforge.space.base import SearchSpace
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.loading import is_imported, load_class
from nasforge.space.moved import MOVED
from nasforge.space.nb201.net import NB201Network
from nasforge.space.stored import SpaceConsent, read_space, rebuild_space, space_config

# (module users import from, name) as README, docs/*.md and examples/*.py show them, with
# the module that defines it now.
DOCUMENTED = [
    ("nasforge.space.choices", "Choices", "nasforge.space.choices.primitives"),
    ("nasforge.space.choices", "MixedModule", "nasforge.space.choices.mixed"),
    ("nasforge.space.choices", "MixedInputs", "nasforge.space.choices.inputs"),
    ("nasforge.space.choices", "ChosenInputs", "nasforge.space.choices.inputs"),
    ("nasforge.space.choices", "ChoiceSuperNet", "nasforge.space.choices.supernet"),
    ("nasforge.space.choices", "ChoiceSpace", "nasforge.space.choices.space"),
    ("nasforge.space.define_by_run", "ChoiceSpace", "nasforge.space.choices.space"),
    ("nasforge.space", "make_space", "nasforge.space"),
    ("nasforge.space", "SPACES", "nasforge.space"),
    ("nasforge.space", "SearchSpace", "nasforge.space.base"),
    ("nasforge.space", "NB201Space", "nasforge.space.nb201.space"),
    ("nasforge.space.nb201", "NB201Space", "nasforge.space.nb201.space"),
    ("nasforge.space.nb201", "LABELS", "nasforge.space.nb201.space"),
    ("nasforge.space.darts", "DartsSpace", "nasforge.space.darts.space"),
    ("nasforge.space.mobilenet", "MobileNetSpace", "nasforge.space.mobilenet.space"),
    ("nasforge.space.table", "TableSpace", "nasforge.space.table.space"),
    ("nasforge.space.recorded", "RecordedSpace", "nasforge.space.recorded"),
    ("nasforge.space.loading", "load_space", "nasforge.space.loading"),
]
OLD_SPEC = "nasforge.space.nb201_net:NB201Network"
"""What nasforge before the split recorded for ``ChoiceSpace(NB201Network)`` (its
``space_key``: checked against that code when this test was written)."""
OPTIONS = {"channels": 4, "cells_per_stage": 1}


@pytest.mark.parametrize(("module", "name", "defined_in"), DOCUMENTED)
def test_a_documented_import_gives_the_object_its_module_defines(
    module: str, name: str, defined_in: str
) -> None:
    shown = getattr(importlib.import_module(module), name)
    assert shown is getattr(importlib.import_module(defined_in), name)


def test_every_space_family_exports_its_registered_spaces() -> None:
    from nasforge.space import SPACES

    for cls in SPACES.values():
        family = importlib.import_module(cls.__module__.rpartition(".")[0])
        assert getattr(family, cls.__name__) is cls, cls


def _classes(module_name: str) -> list[type]:
    module = importlib.import_module(module_name)
    return [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and v.__module__ == module_name
        and issubclass(v, (torch.nn.Module, SearchSpace))
    ]


OLD_CLASSES = [(old, cls) for old, new in sorted(MOVED.items()) for cls in _classes(new)]


@pytest.mark.parametrize(("old", "cls"), OLD_CLASSES, ids=lambda v: getattr(v, "__name__", v))
def test_a_spec_naming_an_old_module_loads_the_class_it_named(old: str, cls: type) -> None:
    assert load_class(f"{old}:{cls.__name__}") is cls
    assert is_imported(f"{old}:{cls.__name__}")


def test_every_old_module_of_a_space_or_network_is_covered() -> None:
    covered = {old for old, _ in OLD_CLASSES}
    assert {"nasforge.space.nb201_net", "nasforge.space.darts", "nasforge.space.table"} <= covered
    assert len(covered) >= 16


def test_a_store_record_of_the_flat_layout_reads_and_rebuilds(tmp_path: Path) -> None:
    config = space_config(ChoiceSpace(NB201Network, **OPTIONS))
    assert config["name"] == "nasforge.space.nb201.net:NB201Network"
    config["name"] = OLD_SPEC  # as the flat layout recorded it
    read = read_space(config)
    rebuilt = rebuild_space(config, SpaceConsent(trust=True), artifact=tmp_path / "store.db")
    assert [d.label for d in rebuilt.decisions] == [d.label for d in read.decisions]
    assert len(rebuilt.decisions) == 6


def test_a_model_folder_of_the_flat_layout_loads(tmp_path: Path) -> None:
    space = make_space("nasforge.space.nb201.net:NB201Network", **OPTIONS)
    task = load_digits_task(seed=0)
    arch = space.sample(np.random.default_rng(0))
    torch.manual_seed(0)
    model = space.build(arch, task.input_shape, task.num_classes)
    folder = save_model(tmp_path / "model", space=space, arch=arch, model=model, task=task)
    record_file = folder / "arch.json"
    record = json.loads(record_file.read_text())
    record["space"]["name"] = OLD_SPEC  # what save_model wrote before the split
    record_file.write_text(json.dumps(record))

    loaded = load_model(folder, trust_space_code=True)

    x = torch.from_numpy(np.array(task.x_test[:16], dtype=np.float32))
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    assert loaded.arch == arch
