"""Text about a model for the app: status line, model card, the settings it was trained on.

Everything is read from the files beside the weights (``training.json`` from train.py's export,
``eval.json`` and ``grid.json`` from train/evaluate.py): nothing here is a hard-coded figure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .models import LoadedModel, get_model, local_folder, model_sources, precision
from .validate import shown

CARD_FILES = ("training.json", "eval.json", "grid.json")


def read_json(folder: Path | None, name: str) -> dict | None:
    """A JSON object from ``folder/name``, or None (missing, unreadable or not an object)."""
    if folder is None:
        return None
    try:
        value = json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class TrainedRange:
    """The generator settings a model was trained on (from ``training.json``'s ``data``)."""

    speed: tuple[float, float]
    digits: tuple[int, int]

    def outside(self, speeds: list[float], n_digits: int) -> str | None:
        """A sentence when a sequence's settings lie outside this range, else None."""
        problems = []
        lo, hi = self.speed
        if any(not lo - 1e-9 <= s <= hi + 1e-9 for s in speeds):
            problems.append(f"speed {', '.join(f'{s:g}' for s in speeds)} (trained on "
                            + (f"{lo:g} only" if lo == hi else f"{lo:g}-{hi:g}") + ")")
        if not self.digits[0] <= n_digits <= self.digits[1]:
            d0, d1 = self.digits
            problems.append(f"{n_digits} digit(s) (trained on " + (f"{d0} only" if d0 == d1 else f"{d0}-{d1}") + ")")
        return " and ".join(problems) if problems else None


def trained_range(training: dict | None) -> TrainedRange | None:
    """The trained range recorded by train.py, or None when unknown."""
    d = training.get("data") if isinstance(training, dict) else None
    if not isinstance(d, dict):
        return None
    try:
        s, n = d["speed_range"], d["digits_range"]
        return TrainedRange((float(s[0]), float(s[1])), (int(n[0]), int(n[1])))
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def model_facts(loaded: LoadedModel) -> dict:
    """``{"training": ..., "eval": ..., "grid": ...}`` JSON objects beside the weights (or None)."""
    return {name.split(".")[0]: read_json(loaded.folder, name) for name in CARD_FILES}


def model_status(key) -> str:
    """One line under the dropdown; warns loudly about untrained / unknown models."""
    sources = model_sources()
    if not isinstance(key, str) or key not in sources:
        return f"⚠️ Unknown model {shown(key)}."
    if not sources[key]:
        return "⚠️ **Untrained model** (random weights): no checkpoint found, predictions are meaningless."
    try:
        training = read_json(local_folder(sources[key]), "training.json")
    except Exception as e:  # a Hub id that cannot be fetched
        return f"⚠️ Model '{key}' is unavailable: {' '.join(str(e).split())[:200]}"
    if training is None:
        return "⚠️ **Untrained or unknown model**: no training.json beside the weights."
    step, mse = training.get("global_step", "?"), training.get("val_mse")
    text = f"Trained for {step} steps" + (f", validation MSE {mse:.1f}" if is_num(mse) else "")
    rng = trained_range(training)
    if rng is not None:
        lo, hi = rng.speed
        text += (f"; trained on speeds {lo:g}–{hi:g}, {rng.digits[0]}–{rng.digits[1]} digits" if lo != hi
                 else f"; trained on speed {lo:g} only, {rng.digits[0]} digits")
    return text + "."


def model_card(key) -> str:
    """Markdown facts: architecture, training record, test metrics, robustness grid (or 'untrained')."""
    loaded = get_model(key)
    model, cfg = loaded.model, loaded.model.config
    device = next(model.parameters()).device
    lines = [
        f"**Model `{loaded.key}`**: preset **{cfg.preset}**, {model.num_parameters():,} parameters, "
        f"{len(cfg.hidden_dims)} ConvLSTM layers {list(cfg.hidden_dims)}, kernel {cfg.kernel_size}, "
        f"patch {cfg.patch_size}, decoder `{cfg.decoder}`; running on {device.type} in {precision(device)}."
    ]
    if not loaded.source:
        lines.append(
            "⚠️ **Untrained model**: no checkpoint was found (checkpoints/ or `FRAMEPRED_MODEL`), so these "
            "are random weights and the predictions are meaningless. Train one with "
            "`python train/train.py --export default`."
        )
        return "\n\n".join(lines)
    facts = model_facts(loaded)
    lines.append(_training_line(facts["training"]))
    if isinstance(facts["eval"], dict) and isinstance(facts["eval"].get("model"), dict):
        lines.append(_eval_table(facts["eval"]))
    elif facts["training"] is not None:
        lines.append("No test-set evaluation (eval.json) beside the weights yet.")
    if isinstance(facts["grid"], dict):
        lines.append(grid_markdown(facts["grid"]))
    return "\n\n".join(line for line in lines if line)


def _training_line(training: dict | None) -> str:
    if training is None:
        return ("⚠️ **Untrained or unknown model**: there is no `training.json` beside the weights, so "
                "nothing is known about how (or whether) it was trained.")
    step = training.get("global_step")
    parts = [f"{step:,} training steps" if isinstance(step, int) else "training steps unknown"]
    if is_num(training.get("val_mse")):
        parts.append(f"validation MSE {training['val_mse']:.2f}")
    if is_num(training.get("val_ssim")):
        parts.append(f"validation SSIM {training['val_ssim']:.3f}")
    if training.get("val_size"):
        parts.append(f"on {training['val_size']} sequences")
    if is_num(training.get("total_wall_time_s")):  # all phases, when every one was clocked
        parts.append(f"{training['total_wall_time_s'] / 3600:.2f} h of training in all")
    elif is_num(training.get("wall_time_s")):
        parts.append(f"{training['wall_time_s'] / 3600:.2f} h in its last training phase")
    rng = trained_range(training)
    if rng is not None:
        parts.append(f"trained on speeds {rng.speed[0]:g}–{rng.speed[1]:g} and {rng.digits[0]}–{rng.digits[1]} digits")
    return "**Training** (training.json): " + ", ".join(parts) + "."


def _eval_table(ev: dict) -> str:
    info = ev.get("info", {}) if isinstance(ev.get("info"), dict) else {}
    rows = ["| | MSE ↓ | MAE ↓ | SSIM ↑ | PSNR ↑ |", "|---|---|---|---|---|"]
    for name, label in (("model", "model"), ("copy_last", "copy last frame"), ("blank", "blank frames")):
        r = ev.get(name)
        if isinstance(r, dict):
            vals = [r.get(m, {}).get("mean") if isinstance(r.get(m), dict) else None
                    for m in ("mse", "mae", "ssim", "psnr")]
            rows.append(f"| {label} | " + " | ".join(f"{v:.4g}" if is_num(v) else "?" for v in vals) + " |")
    where = f"{info.get('sequences', '?')} sequences of {info.get('data', 'the test set')}, 10 → 10"
    return f"**Test metrics** (eval.json: {where}):\n\n" + "\n".join(rows)


def grid_matrix(grid: dict, cell_text: Callable[[dict], str]) -> list[str]:
    """The robustness grid (``grid.json`` from ``train/evaluate.py --grid``) as markdown table rows,
    digit counts x speeds, each cell written by ``cell_text`` (given ``{}`` for a missing cell);
    no rows when the grid has no cells. The one grid table of the app and of the model cards."""
    cells = [c for c in grid.get("cells", []) if isinstance(c, dict)]
    if not cells:
        return []
    speeds = sorted({c.get("speed") for c in cells if is_num(c.get("speed"))})
    digits = sorted({c.get("digits") for c in cells if isinstance(c.get("digits"), int)})
    by = {(c.get("speed"), c.get("digits")): c for c in cells}
    head = "| digits \\ speed | " + " | ".join(f"{s:g}" for s in speeds) + " |"
    rows = [head, "|---" * (len(speeds) + 1) + "|"]
    for n in digits:
        rows.append(f"| {n} | " + " | ".join(cell_text(by.get((s, n), {})) for s in speeds) + " |")
    return rows


def _mse_and_ratio(c: dict) -> str:
    mse = (c.get("model") or {}).get("mse") if isinstance(c.get("model"), dict) else None
    ratio = c.get("mse_vs_blank")
    return f"{mse:.0f} ({ratio:.2f}×)" if is_num(mse) and is_num(ratio) else "?"


def grid_markdown(grid: dict) -> str:
    """The robustness grid for the app's model card: model MSE over speeds x digit counts and, in
    brackets, as a fraction of predicting blank frames."""
    rows = grid_matrix(grid, _mse_and_ratio)
    if not rows:
        return ""
    n_cell = grid.get("n_per_cell", "?")
    return (f"**Robustness** (grid.json: {n_cell} held-out sequences per cell, 10 → 10; model MSE and, in "
            "brackets, as a fraction of predicting blank frames — below 1 is better than predicting nothing):\n\n"
            + "\n".join(rows))
