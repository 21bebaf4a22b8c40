"""One architecture trained from scratch, as ``nasforge train`` asks for it: tested, saved in
a model folder and, with ``onnx``, exported beside it. `plan_train` checks the request and
builds the space and the training evaluator; `TrainPlan.run` trains and saves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.data.task_options import TaskOptions
    from nasforge.evaluate.base import Evaluator
    from nasforge.space.base import SearchSpace


@dataclass
class TrainRequest:
    """How to train: the space of the architecture (None: by the task's input), its
    parameters, the training settings and the folder to save the model in."""

    space: str | None = None
    space_params: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    lr: float = 0.05
    batch_size: int = 64
    augment: bool | None = None
    threads: int | None = None
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    out: Path = Path("models/trained")


@dataclass
class TrainPlan:
    """A checked request: the space, the parsed architecture and its evaluator."""

    request: TrainRequest
    space: SearchSpace
    arch: Arch
    evaluator: Evaluator

    def run(self, *, onnx: bool = False) -> dict[str, Any]:
        """Train, test and save (`nasforge.run.final_model.save_retrained`'s payload), with
        ``onnx`` the ONNX export's check under "onnx"."""
        from nasforge.evaluate.training import retrain
        from nasforge.run.final_model import save_retrained

        r = self.request
        # `nasforge train` keeps the validation split held out unless it holds whole groups
        with_validation = bool(self.evaluator.task.valid_groups)  # type: ignore[attr-defined]
        retrained = retrain(
            self.evaluator,  # type: ignore[arg-type]
            self.arch,
            r.epochs,
            with_validation=with_validation,
        )
        payload = save_retrained(self.space, self.arch, self.evaluator, retrained, r.out)
        if onnx:
            from nasforge.export.onnx import export_beside

            payload["onnx"] = export_beside(payload["model_dir"], trust_space_code=True).to_dict()
        return payload


def plan_train(
    arch: str,
    request: TrainRequest,
    task: TaskOptions,
    *,
    onnx: bool = False,
    on_note: Callable[[str], None] = lambda line: None,
) -> TrainPlan:
    """Refuse a used --out (and ONNX without onnxruntime) before anything loads, then load
    the task (`on_note` hears its notes) and parse `arch` in the space."""
    from nasforge.device import resolve_settings
    from nasforge.run.setup import task_training_evaluator
    from nasforge.space import with_named_options

    r = request
    device, precision = resolve_settings(r.device, r.precision)
    if r.out.exists() and any(r.out.iterdir()):
        raise ConfigError(f"output folder {r.out} exists and is not empty; choose another --out")
    if onnx:
        from nasforge.export.onnx import require_onnx

        require_onnx()  # before training, not after
    params = r.space_params
    if r.space is not None:
        params = with_named_options(r.space, arch, params)
    space, evaluator = task_training_evaluator(
        task,
        r.space,
        params,
        {},
        epochs=r.epochs,
        lr=r.lr,
        batch_size=r.batch_size,
        augment=r.augment,
        threads=r.threads,
        seed=r.seed,
        device=device,
        precision=precision,
    )
    for note in getattr(getattr(evaluator, "task", None), "notes", ()):
        on_note(note)
    return TrainPlan(request, space, space.parse(arch), evaluator)
