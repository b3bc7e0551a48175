"""The framepred command: predict the frames after a clip; score a model on a file of sequences.

    framepred predict IN OUT [--model NAME|DIR|HUB_ID] [--horizon N] [--device D]
    framepred eval DATA.npy [--model NAME|DIR|HUB_ID] [--json OUT] [--limit N] [--horizon N]

predict: IN is a .npy array, an animated .gif, an .mp4 or a .webm video, read with the demo's checks
and limits (framepred.uploads: frame count, frame size, file size); a light background is inverted,
as in the demo. The first 10 frames are the context; the frames after them, if any, are the ground
truth shown beside the prediction. OUT's extension says what to write: .gif or .mp4 (the demo's
animation: ground truth | prediction | |error|, the context then the prediction), .png (a strip: the
context then the ground truth on top, the prediction below), .npy (the predicted frames, float32
(horizon, 64, 64) in [0, 1]).

eval: DATA.npy holds sequences (N, T, 64, 64) or, like MovingMNIST's mnist_test_seq.npy,
(20, N, 64, 64), uint8 0..255 or float in [0, 1]; the model and the copy-last-frame and blank
baselines predict the frames after the first 10 (--horizon, default 10), scored with the metrics and
table of train/evaluate.py (the same code: framepred.evaluation).

--model: a model folder, the name of a model in ./checkpoints (or FRAMEPRED_CHECKPOINTS_DIR), or a
Hugging Face Hub repo id; default: FRAMEPRED_MODEL, else the checkpoints' "default".

Bad input prints one line, "framepred: error: ...", on stderr and exits with status 2; files are
written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, uploads
from .data import CANVAS, CONTEXT, SEQ_LEN, auto_layout, check_unit_floats
from .serving import validate

EXIT_ERROR = 2  # bad input, as argparse's usage errors
OUTPUT_KINDS = {".gif": "animated GIF", ".mp4": "MP4 video", ".png": "PNG strip", ".npy": "prediction array"}
LAYOUTS = ("auto", "NTHW", "TNHW")


class UsageError(ValueError):
    """Bad input to the command: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------
def model_source(name: str | None) -> str:
    """What ``--model`` names (None: the default), as a source :func:`framepred.hub.model_dir` reads:
    a folder, a model in the checkpoints folder, or a Hub repo id (checked in that order)."""
    from . import hub
    from .serving.models import checkpoints_dir, env_model

    name = name or env_model() or "default"
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    shipped = checkpoints_dir() / name
    if "/" not in name and os.sep not in name and shipped.is_dir():
        return str(shipped)
    if hub.is_hub_id(name):
        return name
    root = checkpoints_dir()
    there = sorted(d.name for d in root.iterdir() if (d / "config.json").is_file()) if root.is_dir() else []
    listing = f" (there: {', '.join(there)})" if there else " (none there)"
    raise UsageError(f"no model '{name}': not a folder, not a model in {root}{listing}, "
                     f"and not a Hub repo id 'user/name'")


def load(name: str | None, device: str | None):
    """``(model, label)``: the model ``--model`` names, loaded for inference (its config checked before
    any weights), and what the user called it."""
    from . import hub
    from .inference import load_model
    from .serving.models import check_config, env_model

    source = model_source(name)
    try:
        folder = hub.model_dir(source)
        check_config(hub.read_config(folder))
        return load_model(folder, device), name or env_model() or "default"
    except hub.ModelSourceError:
        raise  # its message is already meant for users
    except (RuntimeError, OSError) as e:  # weights that do not fit the config, unreadable files
        detail = " ".join(str(e).split())[:300]  # one line, bounded
        raise UsageError(f"could not load model '{source}': {type(e).__name__}: {detail}") from None


# --------------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------------
def _save_npy(path: Path, context, truth, pred) -> str:
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        np.save(tmp, np.asarray(pred, dtype=np.float32))
    return str(path)


def _writer(suffix: str):
    """The function writing OUT for its extension: ``f(path, context, truth or None, prediction)``."""
    from . import viz

    if suffix == ".mp4":
        from . import video

        return video.save_sequence_mp4
    return {".gif": viz.save_sequence_gif, ".png": viz.save_frame_strip, ".npy": _save_npy}[suffix]


def check_output(path: str | os.PathLike) -> Path:
    """OUT must have a known extension and an existing folder; refused before any work is done."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_KINDS:
        raise UsageError(f"OUT must end in {', '.join(OUTPUT_KINDS)} (it says what to write), got '{out.name}'")
    if out.is_dir():
        raise UsageError(f"OUT '{out}' is a folder; name a file")
    if not out.parent.is_dir():
        raise UsageError(f"the folder of OUT '{out}' does not exist")
    return out


def check_input(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"'{p}': no such file")
    return p


def predict_command(args: argparse.Namespace) -> int:
    out = check_output(args.output)
    horizon = validate.whole(args.horizon, "--horizon", 1, validate.MAX_HORIZON)
    source = check_input(args.input)
    frames = uploads.load_upload(source, max_used_frames=CONTEXT + horizon)
    frames, inverted = uploads.normalise_polarity(frames)
    if inverted:
        print("note: the clip has a light background: it was inverted (light digits on black, as the "
              "model was trained)", file=sys.stderr)
    context, truth = frames[:CONTEXT], frames[CONTEXT : CONTEXT + horizon]
    from . import metrics  # (torch is imported once the input has passed its checks)
    from .inference import predict

    model, model_name = load(args.model, args.device)
    pred = predict(model, context, horizon)
    suffix = out.suffix.lower()
    _writer(suffix)(out, context, truth if len(truth) else None, pred)
    shown = f"{horizon} predicted frames" if suffix == ".npy" else f"{CONTEXT} context + {horizon} predicted frames"
    print(f"wrote {out} ({OUTPUT_KINDS[suffix]}: {shown}; model {model_name})")
    if len(truth):
        n = len(truth)
        ours = metrics.all_metrics(pred[:n], truth)
        copy = metrics.all_metrics(metrics.copy_last_baseline(context, n), truth)
        print(f"over the {n} frame{'s' if n != 1 else ''} with ground truth: MSE {np.mean(ours['mse']):.1f} "
              f"(copy last frame {np.mean(copy['mse']):.1f}), SSIM {np.mean(ours['ssim']):.3f} "
              f"(copy last frame {np.mean(copy['ssim']):.3f})")
    return 0


# --------------------------------------------------------------------------------------------------
# eval
# --------------------------------------------------------------------------------------------------
def read_sequences(path: str | os.PathLike, layout: str = "auto") -> np.ndarray:
    """A file of sequences as an ``(N, T, 64, 64)`` view of the memory-mapped array (read as needed),
    its header checked first with the upload checks' messages. ``layout``: "auto" takes
    ``(20, N, ...)`` with N != 20 as MovingMNIST's standard ``(T, N, ...)``, as
    :func:`framepred.data.load_sequences` does; "NTHW" or "TNHW" say it."""
    path = check_input(path)
    if path.stat().st_size == 0:
        raise UsageError(f"'{path}' is empty")
    with open(path, "rb") as f:
        if f.read(6) != uploads.NPY_MAGIC:
            raise UsageError(f"'{path}' is not a NumPy .npy file; eval reads an array of sequences "
                             "(N, T, 64, 64) or (20, N, 64, 64)")
    shape, dtype, offset = uploads.read_npy_header(path)
    uploads.check_dtype(dtype)
    if dtype != np.uint8 and dtype.kind != "f":
        raise UsageError(f"the sequences are {dtype}; eval reads uint8 0..255 or float in [0, 1]")
    if len(shape) != 4 or tuple(shape[2:]) != (CANVAS, CANVAS) or 0 in shape:
        raise UsageError(f"the array has shape {tuple(shape)}; eval reads sequences (N, T, {CANVAS}, {CANVAS}) or "
                         f"MovingMNIST's layout ({SEQ_LEN}, N, {CANVAS}, {CANVAS}) (a single clip is for predict)")
    uploads.check_npy_length(path, shape, dtype, offset)
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if dtype.kind == "f":
        check_floats(arr)
    if layout == "auto":
        layout = auto_layout(shape)
    return np.swapaxes(arr, 0, 1) if layout == "TNHW" else arr


def check_floats(arr: np.ndarray, chunk_bytes: int = 64 * 2**20) -> None:
    """:func:`framepred.data.check_unit_floats`, its refusal a :class:`UsageError`."""
    try:
        check_unit_floats(arr, chunk_bytes)
    except ValueError as e:
        raise UsageError(str(e)) from None


def eval_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .evaluation import evaluate, markdown_table

    out = Path(args.json) if args.json else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UsageError(f"--json '{out}': not a file in an existing folder")
    seqs = read_sequences(args.data, args.layout)
    n_frames = seqs.shape[1]
    if n_frames < CONTEXT + 1:
        raise UsageError(f"the sequences have {n_frames} frames; eval needs at least {CONTEXT + 1} "
                         f"({CONTEXT} context frames + 1 to predict)")
    if args.horizon > n_frames - CONTEXT:
        raise UsageError(f"the sequences have {n_frames} frames: --horizon can be at most {n_frames - CONTEXT}")
    horizon = validate.whole(args.horizon, "--horizon", 1, n_frames - CONTEXT)
    if args.limit is not None:
        seqs = seqs[: validate.whole(args.limit, "--limit", 1, sys.maxsize)]
    batch_size = validate.whole(args.batch_size, "--batch-size", 1, 10_000)
    model, model_name = load(args.model, args.device)
    name = os.path.basename(args.data)
    t0 = time.time()
    with tqdm(total=len(seqs), unit="seq", desc="evaluating", file=sys.stderr, disable=args.quiet) as bar:
        try:
            result = evaluate(model, seqs, horizon=horizon, batch_size=batch_size, progress=bar.update)
        except ValueError as e:  # values the header could not show (NaN, floats outside [0, 1])
            raise UsageError(f"{name}: {e}") from None
    result["info"] = {
        "model": model_name, "preset": model.config.preset, "parameters": model.num_parameters(),
        "data": name, "sequences": int(len(seqs)), "context": CONTEXT, "horizon": horizon,
        "seconds": round(time.time() - t0, 1),
    }
    print(f"{result['info']['sequences']} sequences from {name}, {CONTEXT} -> {horizon}, "
          f"{result['info']['seconds']} s\n")
    print(markdown_table(result))
    if out is not None:
        from .atomic import write_text

        write_text(out, json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="framepred", description=__doc__.split("\n\n")[0],
                                epilog="framepred COMMAND --help describes each command.")
    p.add_argument("--version", action="version", version=f"framepred {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_help = ("a model folder, the name of a model in ./checkpoints (FRAMEPRED_CHECKPOINTS_DIR), or a "
                  "Hub repo id (default: FRAMEPRED_MODEL, else 'default')")

    pp = sub.add_parser("predict", help="predict the frames after the first 10 of a clip",
                        description=__doc__.split("\n\n")[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    pp.add_argument("input", metavar="IN", help=f"the clip: {uploads.ACCEPTED}; {uploads.MIN_FRAMES} to "
                    f"{uploads.MAX_FRAMES} frames, {uploads.MIN_SIDE} to {uploads.MAX_SIDE} pixels a side, "
                    f"at most {uploads.MAX_FILE_BYTES // 2**20} MiB")
    pp.add_argument("output", metavar="OUT", help="the file to write: " + ", ".join(
        f"{k} ({v})" for k, v in OUTPUT_KINDS.items()))
    pp.add_argument("--model", help=model_help)
    pp.add_argument("--horizon", type=int, default=validate.DEFAULT_HORIZON,
                    help=f"frames to predict, 1 to {validate.MAX_HORIZON} (default {validate.DEFAULT_HORIZON})")
    pp.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    pp.set_defaults(run=predict_command)

    pe = sub.add_parser("eval", help="score a model and the baselines on a .npy file of sequences",
                        description=__doc__.split("\n\n")[3], formatter_class=argparse.RawDescriptionHelpFormatter)
    pe.add_argument("data", metavar="DATA.npy", help="sequences (N, T, 64, 64) or (20, N, 64, 64)")
    pe.add_argument("--model", help=model_help)
    pe.add_argument("--json", metavar="OUT", help="also write the results as JSON (train/evaluate.py's format)")
    pe.add_argument("--limit", type=int, help="only the first N sequences")
    pe.add_argument("--horizon", type=int, default=10, help="frames to predict after the 10 of context (default 10)")
    pe.add_argument("--batch-size", type=int, default=100, help="sequences per batch (default 100)")
    pe.add_argument("--layout", choices=LAYOUTS, default="auto",
                    help="the array's axes: (N, T, ...) or (T, N, ...); auto: (20, N, ...) with N != 20 is (T, N, ...)")
    pe.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    pe.add_argument("--quiet", action="store_true", help="no progress bar")
    pe.set_defaults(run=eval_command)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0, or 2 after a message on stderr)."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as e:  # bad input (ValueError, ModelSourceError) or a file that cannot be written
        text = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        print(f"framepred: error: {text}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("framepred: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
