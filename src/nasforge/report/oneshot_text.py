"""A one-shot search's summary as lines of text, from the payload ``nasforge oneshot
--json`` prints (`nasforge.run.oneshot_run.run_oneshot`)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from nasforge.report.export_text import onnx_line


def oneshot_lines(payload: dict[str, Any]) -> list[Text]:
    """The found architecture, its diagnostics, the child's accuracy (inherited weights,
    fine-tuned), its NAS-Bench-201 entry, where it was saved and how to retrain it."""
    d = payload["diagnostics"]
    lines: list[Text | str] = [
        Text.assemble(
            (payload["method"], "bold"),
            " found ",
            (payload["arch"], "bold"),
            f" in {payload['seconds']:.1f} s ({payload['epochs']} epochs; supernet valid "
            f"accuracy {payload['supernet_valid_accuracy']:.1f}%)",
        )
    ]
    if payload["not_searched"]:
        lines.append(
            f"  not searched by {payload['method']} (left at their largest value, the first "
            f"of strings): {', '.join(payload['not_searched'])}; spos and enas search them"
        )
    if payload["latency_ms_predicted"] is not None:
        lines.append(f"  predicted latency {payload['latency_ms_predicted']:.3f} ms (lookup table)")
    if d["final_skip_share"] is not None:
        unit = "generation" if d["unit"] == "generation" else "epoch"
        lines.append(
            f"  last {unit}: skip connections {d['final_skip_share']:.0%} of the edges, "
            f"mean entropy {d['final_entropy']:.2f} nats"
        )
    if child := payload.get("child"):
        lines.append(
            f"  child with inherited weights: test accuracy {child['test_accuracy']:.2f}% "
            f"({child['params']:,} parameters)"
        )
    if tuned := payload.get("finetune"):
        lines.append(
            Text.assemble(
                f"  fine-tuned {tuned['epochs']} epochs: ",
                (f"test accuracy {tuned['test_accuracy']:.2f}%", "bold"),
                f" (valid {tuned['valid_accuracy']:.2f}%)",
            )
        )
    if looked_up := payload.get("benchmark"):
        lines.append(
            f"  NAS-Bench-201 (CIFAR-10, 200 epochs): test {looked_up['test_accuracy']:.2f}%, "
            f"valid {looked_up['valid_accuracy']:.2f}%, {looked_up['params_m']:.2f} M parameters"
        )
    if payload.get("model_dir"):
        lines.append(f"  saved to {payload['model_dir']}")
    if payload.get("onnx"):
        lines.append("  " + onnx_line(payload["onnx"]))
    lines.append(f"  retrain from scratch: {payload['retrain_command']}")
    return [Text(line) if isinstance(line, str) else line for line in lines]
