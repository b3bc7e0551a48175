"""framepred demo: a ConvLSTM predicts the next MovingMNIST frames (Gradio; Hugging Face Space or laptop).

Pick a sequence (held-out test set, a freshly generated one, or an upload), choose how many frames
to predict and a model; the first 10 frames are the context, later frames the ground truth. The app
shows ground truth | prediction | error as one animated GIF, per-frame metrics against the
copy-last-frame baseline, downloads, and the model's hidden-state activity.

Configuration (environment; model and test-file settings are re-read on every request):
    FRAMEPRED_CHECKPOINTS_DIR  directory scanned for models (default: ./checkpoints)
    FRAMEPRED_MODEL            one more model: a local directory or a Hub repo id (the default then)
    FRAMEPRED_TEST_FILE        a standard mnist_test_seq.npy to serve instead of the built-in test set
    FRAMEPRED_TORCH_THREADS    torch threads (default: CPU cores / concurrent requests)
    FRAMEPRED_MAX_OUTPUT_DIRS / FRAMEPRED_MAX_CACHED_FILES / FRAMEPRED_CACHE_GRACE_S
                               bounds on temporary files (defaults 100 / 500 / 10 s; see clean_temp_files)
    GRADIO_SERVER_PORT / GRADIO_SERVER_NAME  the usual Gradio settings

API (gradio_client), each returning (GIF path, prediction .npy path, metrics JSON), default model:
    /predict_test(index, horizon)   /predict_generated(seed, n_digits, speed, horizon)
    /predict_upload(file, horizon)
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

# A demo that must work offline: no usage telemetry unless the host asks for it.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np
import pandas as pd
import torch


from framepred import data, inference, metrics, uploads, viz
from framepred.model import CONFIG_NAME, WEIGHTS_NAME, ConvLSTMConfig, ConvLSTMSeq2Seq

# --------------------------------------------------------------------------------------------------
# Constants (every limit is named once, here or in framepred.uploads)
# --------------------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parent
EXAMPLES_DIR = REPO / "examples"
CONTEXT = data.CONTEXT  # first 10 frames are the context
MAX_HORIZON = 30
DEFAULT_HORIZON = 10
MAX_SEED = 2**32 - 1
N_DIGITS_MIN, N_DIGITS_MAX = 1, 3
SPEED_MIN, SPEED_MAX, SPEED_STEP = 0.25, 3.0, 0.25
QUEUE_MAX_SIZE = 16  # waiting requests beyond this are turned away ("Queue is full")
CONCURRENCY_LIMIT = 2  # predictions running at once, all endpoints together: one per core (2 vCPU)
PREDICT_GROUP = "predict"  # the concurrency group every prediction event (UI and API) shares
MAX_FILE_SIZE = uploads.MAX_FILE_BYTES  # upload limit enforced by the server (bytes)
DELETE_CACHE = (900, 3600)  # every 15 min, delete Gradio cache files older than 1 h
OUTPUT_TTL_S = 3600  # our per-request output folders are removed after 1 h ...
# ... and beyond MAX_OUTPUT_DIRS, oldest first; never fewer than running requests need until Gradio
# has copied their files:
MAX_OUTPUT_DIRS = max(int(os.environ.get("FRAMEPRED_MAX_OUTPUT_DIRS") or 100), 2 * CONCURRENCY_LIMIT + 1)
# This app's files in Gradio's cache (uploads, served results) beyond this many are removed, oldest
# first; never fewer than the requests in the app (queued or running, up to 6 files each: upload,
# GIF, .npy, 2 hidden-state images, spare) can add before their files are fetched:
MAX_CACHED_FILES = max(int(os.environ.get("FRAMEPRED_MAX_CACHED_FILES") or 500),
                       6 * (QUEUE_MAX_SIZE + CONCURRENCY_LIMIT))
CACHE_GRACE_S = float(os.environ.get("FRAMEPRED_CACHE_GRACE_S") or 10)  # an empty temp file younger than
#   this may be an upload still arriving (older empty ones are Gradio's leftovers, see clean_temp_files)
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "framepred-demo"
MODEL_CACHE_SIZE = 4  # models kept loaded
MAX_MODEL_PARAMETERS = 20_000_000  # a config.json asking for more is refused before anything is built
MAX_MODEL_LAYERS = 32  # ConvLSTM layers in such a config
GPU_DURATION_S = 30  # ZeroGPU time slot per request
# torch threads per request: cores / concurrent requests (FRAMEPRED_TORCH_THREADS overrides). More
# threads than free cores makes torch's thread pool spin: 100x slower under CPU contention.
CPU_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
TORCH_THREADS = int(os.environ.get("FRAMEPRED_TORCH_THREADS") or max(1, CPU_CORES // CONCURRENCY_LIMIT))
UNTRAINED = "untrained"  # dropdown key of the random-weights fallback when no checkpoint exists
UNTRAINED_SEED = 0
CARD_FILES = ("training.json", "eval.json", "metrics.json")  # read beside the weights for the card
TABLE_METRICS = (("mse", 1), ("mae", 1), ("ssim", 3), ("psnr", 2))  # (metric, decimals) in the table
TABLE_HEADERS = ["frame", "MSE", "MAE", "SSIM", "PSNR (dB)"]


# --------------------------------------------------------------------------------------------------
# Models: the only global state is the cached loader
# --------------------------------------------------------------------------------------------------
torch.set_num_threads(TORCH_THREADS)


def checkpoints_dir() -> Path:
    return Path(os.environ.get("FRAMEPRED_CHECKPOINTS_DIR") or REPO / "checkpoints")


def model_sources() -> dict[str, str]:
    """Dropdown key -> model source (local directory or Hub id). Only these can ever be loaded."""
    sources: dict[str, str] = {}
    env = os.environ.get("FRAMEPRED_MODEL", "").strip()
    if env:
        sources[env] = env
    root = checkpoints_dir()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.is_dir() and (d / CONFIG_NAME).is_file() and (d / WEIGHTS_NAME).is_file():
                sources.setdefault(d.name, str(d))
    if not sources:
        sources[UNTRAINED] = ""
    return sources


def default_model_key(sources: dict[str, str] | None = None) -> str:
    sources = model_sources() if sources is None else sources
    if os.environ.get("FRAMEPRED_MODEL", "").strip():
        return next(iter(sources))
    return "default" if "default" in sources else next(iter(sources))


def model_choices(sources: dict[str, str]) -> list[tuple[str, str]]:
    env = os.environ.get("FRAMEPRED_MODEL", "").strip()
    labels = []
    for key, src in sources.items():
        if key == UNTRAINED and not src:
            labels.append(("untrained (random weights: no checkpoint found)", key))
        elif key == env:
            labels.append((f"{key} (FRAMEPRED_MODEL)", key))
        else:
            labels.append((f"{key} (checkpoints/{key})", key))
    return labels


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=MODEL_CACHE_SIZE)
def load_cached_model(key: str, source: str, version: int, device_name: str) -> ConvLSTMSeq2Seq:
    """Load (and keep) one model; ``version`` (the weights' mtime) reloads re-exported checkpoints."""
    if not source:  # no checkpoint anywhere: random weights, clearly labelled as untrained
        with torch.random.fork_rng(devices=[]):  # reproducible weights, global RNG untouched
            torch.manual_seed(UNTRAINED_SEED)
            model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("default"))
        return model.to(device_name).eval()
    check_model_config(source)
    return inference.load_model(source, device_name)


def check_model_config(source: str) -> None:
    """Refuse a config.json the app cannot serve before any weights are allocated or read.

    The architecture is built on PyTorch's ``meta`` device (no memory) to count its parameters, so a
    config asking for a huge network fails here instead of exhausting the server's memory. The
    weights themselves are read only from safetensors, strictly (``framepred.inference.load_model``).
    """
    raw = _read_json(source, CONFIG_NAME)
    if raw is None:
        raise ValueError(f"{CONFIG_NAME} is missing or is not a JSON object")
    if isinstance(raw.get("config"), dict):  # PyTorchModelHubMixin may nest it
        raw = raw["config"]
    try:
        cfg = ConvLSTMConfig(**{k: v for k, v in raw.items() if k in ConvLSTMConfig.__dataclass_fields__})
        if (cfg.image_size, cfg.channels) != (data.CANVAS, 1):
            raise ValueError(f"the app serves {data.CANVAS} x {data.CANVAS} grey frames, the config says "
                             f"image_size {cfg.image_size}, channels {cfg.channels}")
        if len(cfg.hidden_dims) > MAX_MODEL_LAYERS:
            raise ValueError(f"{len(cfg.hidden_dims)} layers, the limit is {MAX_MODEL_LAYERS}")
        with torch.device("meta"):
            n = ConvLSTMSeq2Seq(cfg).num_parameters()
    except (TypeError, ValueError, OverflowError, RuntimeError) as e:
        raise ValueError(f"{CONFIG_NAME} does not describe a usable model: {e}") from None
    if n > MAX_MODEL_PARAMETERS:
        raise ValueError(f"{CONFIG_NAME} describes {n:,} parameters; the limit is {MAX_MODEL_PARAMETERS:,}")


def get_model(key) -> tuple[str, ConvLSTMSeq2Seq]:
    """Validate a dropdown value against the known models and load it; clear gr.Error otherwise."""
    sources = model_sources()
    default = default_model_key(sources)
    key = default if key in (None, "") else key
    if not isinstance(key, str) or key not in sources:
        raise gr.Error(f"Unknown model {_shown(key)}. Available: {', '.join(sources)}.")
    source = sources[key]
    weights = Path(source) / WEIGHTS_NAME
    version = weights.stat().st_mtime_ns if source and weights.is_file() else 0
    try:
        return key, load_cached_model(key, source, version, device())
    except Exception as e:  # corrupt, mismatched or missing files: say so, keep serving the others
        hint = f" The default model '{default}' is still available." if key != default else ""
        detail = " ".join(str(e).split())[:300]  # one line, bounded
        raise gr.Error(f"Could not load model '{key}' (corrupt or mismatched files?): "
                       f"{type(e).__name__}: {detail}.{hint}") from None


def model_card(key) -> str:
    """Markdown facts about a model: architecture, training record, test metrics (or 'untrained')."""
    key, model = get_model(key)
    source = model_sources()[key]
    cfg = model.config
    lines = [
        f"**Model `{key}`**: preset **{cfg.preset}**, {model.num_parameters():,} parameters, "
        f"{len(cfg.hidden_dims)} ConvLSTM layers {list(cfg.hidden_dims)}, kernel {cfg.kernel_size}, "
        f"patch {cfg.patch_size}, decoder `{cfg.decoder}`; running on {device()}."
    ]
    if not source:
        lines.append(
            "⚠️ **Untrained model**: no checkpoint was found (checkpoints/ or `FRAMEPRED_MODEL`), so these "
            "are random weights and the predictions are meaningless. Train one with "
            "`python train/train.py --export default`."
        )
        return "\n\n".join(lines)
    facts = {name: _read_json(source, name) for name in CARD_FILES}
    training = facts["training.json"]
    if training is None:
        lines.append(
            "⚠️ **Untrained or unknown model**: there is no `training.json` beside the weights, so "
            "nothing is known about how (or whether) it was trained."
        )
    else:
        parts = [f"{training.get('global_step', '?'):,} training steps" if isinstance(training.get("global_step"), int)
                 else "training steps unknown"]
        if isinstance(training.get("sequences_seen"), int) and training["sequences_seen"]:
            parts.append(f"{training['sequences_seen']:,} sequences seen")
        if _is_num(training.get("val_mse")):
            parts.append(f"validation MSE {training['val_mse']:.2f}")
        if _is_num(training.get("val_ssim")):
            parts.append(f"validation SSIM {training['val_ssim']:.3f}")
        if training.get("val_size"):
            parts.append(f"on {training['val_size']} sequences")
        if _is_num(training.get("total_wall_time_s")):  # all phases, when every one was clocked
            parts.append(f"{training['total_wall_time_s'] / 3600:.2f} h of training in all")
        elif _is_num(training.get("wall_time_s")):
            parts.append(f"{training['wall_time_s'] / 3600:.2f} h in its last training phase")
        lines.append("**Training** (training.json): " + ", ".join(parts) + ".")
    ev = facts["eval.json"]
    if isinstance(ev, dict) and isinstance(ev.get("model"), dict):  # written by train/evaluate.py
        info = ev.get("info", {}) if isinstance(ev.get("info"), dict) else {}
        rows = ["| | MSE ↓ | MAE ↓ | SSIM ↑ | PSNR ↑ |", "|---|---|---|---|---|"]
        for name, label in (("model", "model"), ("copy_last", "copy last frame"), ("blank", "blank frames")):
            r = ev.get(name)
            if isinstance(r, dict):
                vals = [r.get(m, {}).get("mean") if isinstance(r.get(m), dict) else None
                        for m in ("mse", "mae", "ssim", "psnr")]
                rows.append(f"| {label} | " + " | ".join(f"{v:.4g}" if _is_num(v) else "?" for v in vals) + " |")
        where = f"{info.get('sequences', '?')} sequences of {info.get('data', 'the test set')}, 10 → 10"
        lines.append(f"**Test metrics** (eval.json: {where}):\n\n" + "\n".join(rows))
    elif isinstance(facts["metrics.json"], dict):
        flat = [f"{k} {v:.4g}" for k, v in _flatten_numbers(facts["metrics.json"])][:12]
        if flat:
            lines.append("**Test metrics** (metrics.json): " + ", ".join(flat) + ".")
    elif training is not None:
        lines.append("No test-set evaluation (eval.json) beside the weights yet.")
    return "\n\n".join(lines)


def model_status(key) -> str:
    """One line under the dropdown; warns loudly about untrained / unknown models."""
    sources = model_sources()
    if not isinstance(key, str) or key not in sources:
        return f"⚠️ Unknown model {_shown(key)}."
    source = sources[key]
    if not source:
        return "⚠️ **Untrained model** (random weights): no checkpoint found, predictions are meaningless."
    training = _read_json(source, "training.json")
    if training is None:
        return "⚠️ **Untrained or unknown model**: no training.json beside the weights."
    step = training.get("global_step", "?")
    mse = training.get("val_mse")
    return f"Trained for {step} steps" + (f", validation MSE {mse:.1f}." if _is_num(mse) else ".")


def _read_json(source: str, name: str):
    path = Path(source) / name
    if not path.is_file():
        if Path(source).is_dir():
            return None
        try:  # a Hub id: only what is already in the local cache
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(source, name, local_files_only=True))
        except Exception:
            return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _flatten_numbers(d: dict, prefix: str = ""):
    for k, v in d.items():
        if _is_num(v):
            yield prefix + str(k), float(v)
        elif isinstance(v, dict):
            if _is_num(v.get("mean")):
                yield prefix + str(k), float(v["mean"])
            else:
                yield from _flatten_numbers(v, f"{prefix}{k}.")


# --------------------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------------------
def _number(value) -> float:
    """A real number as float; NaN for anything else (strings, booleans, None, lists, ...)."""
    if isinstance(value, (str, bytes, bool)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _shown(value) -> str:
    """A bounded repr of a user-supplied value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value, name: str, lo: int, hi: int) -> int:
    f = _number(value)
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise gr.Error(f"{name} must be a whole number from {lo} to {hi}, got {_shown(value)}.")
    return int(f)


def check_horizon(horizon) -> int:
    return _whole(horizon, "Frames to predict", 1, MAX_HORIZON)


def _test_file_array():
    """FRAMEPRED_TEST_FILE memory-mapped as (N, T, 64, 64), or None for the built-in test set."""
    path = os.environ.get("FRAMEPRED_TEST_FILE", "").strip()
    if not path:
        return None
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise gr.Error(f"FRAMEPRED_TEST_FILE={path} cannot be read: {e}") from None
    if arr.ndim != 4 or arr.shape[2:] != (data.CANVAS, data.CANVAS):
        raise gr.Error(f"FRAMEPRED_TEST_FILE={path}: expected (20, N, 64, 64) sequences, got {arr.shape}.")
    if arr.shape[0] == data.SEQ_LEN and arr.shape[1] != data.SEQ_LEN:  # standard (T, N, H, W) layout
        arr = arr.swapaxes(0, 1)
    if arr.shape[1] <= CONTEXT:
        raise gr.Error(f"FRAMEPRED_TEST_FILE={path}: sequences need more than {CONTEXT} frames.")
    return arr


def test_set_size() -> int:
    try:
        arr = _test_file_array()
    except gr.Error:
        return data.TEST_SET_SIZE
    return data.TEST_SET_SIZE if arr is None else len(arr)


def test_source_label() -> str:
    path = os.environ.get("FRAMEPRED_TEST_FILE", "").strip()
    return f"sequences from {Path(path).name}" if path else "fixed held-out test set (digits never seen in training)"


def test_sequence(index) -> np.ndarray:
    arr = _test_file_array()
    n = data.TEST_SET_SIZE if arr is None else len(arr)
    i = _whole(index, "Test sequence index", 0, n - 1)
    seq = data.test_set()[i] if arr is None else np.asarray(arr[i])
    try:
        return data.to_unit_float(np.ascontiguousarray(seq))
    except ValueError as e:
        raise gr.Error(f"Test sequence {i} is unusable: {e}") from None


def generated_sequence(seed, n_digits, speed, length: int) -> np.ndarray:
    seed = _whole(seed, "Seed", 0, MAX_SEED)
    n_digits = _whole(n_digits, "Number of digits", N_DIGITS_MIN, N_DIGITS_MAX)
    value, speed = speed, _number(speed)
    if not (math.isfinite(speed) and SPEED_MIN <= speed <= SPEED_MAX):
        raise gr.Error(f"Speed must be a number from {SPEED_MIN} to {SPEED_MAX}, got {_shown(value)}.")
    rng = np.random.default_rng(seed)
    return data.generate(data.load_digits("test"), rng, 1, length, n_digits, speed)[0]


def uploaded_sequence(file) -> np.ndarray:
    if file is None:
        raise gr.Error("Upload a .npy or .gif file first.")
    path = file if isinstance(file, (str, os.PathLike)) else getattr(file, "name", None)
    if path is None:
        raise gr.Error("Upload a .npy or .gif file first.")
    try:
        return uploads.load_upload(path, max_used_frames=CONTEXT + MAX_HORIZON)
    except ValueError as e:
        raise gr.Error(str(e)) from None


# --------------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------------
try:  # Hugging Face ZeroGPU: run the model inside a GPU slot; elsewhere a no-op
    import spaces

    gpu = spaces.GPU(duration=GPU_DURATION_S)
except ImportError:
    def gpu(fn):
        return fn


@gpu
def infer(model: ConvLSTMSeq2Seq, context: np.ndarray, horizon: int, hidden: bool):
    if hidden:
        return inference.predict(model, context, horizon, return_hidden=True)
    return inference.predict(model, context, horizon), None


def new_output_dir() -> Path:
    """A fresh folder for one request's files (after bounding the temporary files, see below)."""
    clean_temp_files()
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="req-", dir=OUTPUT_ROOT))


# --------------------------------------------------------------------------------------------------
# Temporary files: bounded in number, not only in age
# --------------------------------------------------------------------------------------------------
_cleaning = threading.Lock()


def clean_temp_files() -> None:
    """Keep the files a busy Space accumulates bounded in number; runs before every prediction.

    * our request folders (OUTPUT_ROOT): older than OUTPUT_TTL_S, and beyond the newest
      MAX_OUTPUT_DIRS, are removed (Gradio has served them from its own copies by then);
    * this app's files in Gradio's cache (uploads and the copies of served results): beyond the
      newest MAX_CACHED_FILES, and older than DELETE_CACHE's age, are removed with the folder Gradio
      made for each (Gradio's own ``delete_cache`` sweep goes by age only, every 15 minutes, and
      stops for good if a request adds a file while it runs: this does not depend on it);
    * Gradio 6.31's ``gr.File`` preprocessing leaves an empty ``tmp*`` file in the cache on every
      upload request; empty ones older than CACHE_GRACE_S are removed (younger ones may be uploads
      still arriving).
    """
    if not _cleaning.acquire(blocking=False):  # another request is already cleaning
        return
    try:
        _prune_output_dirs()
        if "demo" in globals():  # the Blocks exist (not while the module is being imported)
            _prune_gradio_cache(demo)
    except Exception:  # cleaning must never fail a request
        pass
    finally:
        _cleaning.release()


def _prune_output_dirs() -> None:
    if not OUTPUT_ROOT.is_dir():
        return
    now, dirs = time.time(), []
    for d in OUTPUT_ROOT.iterdir():
        try:
            dirs.append((d.stat().st_mtime, d))
        except OSError:
            continue
    dirs.sort(reverse=True)  # newest first
    for i, (mtime, d) in enumerate(dirs):
        if i >= MAX_OUTPUT_DIRS or now - mtime > OUTPUT_TTL_S:
            shutil.rmtree(d, ignore_errors=True)


def _prune_gradio_cache(blocks: gr.Blocks) -> None:
    cache = Path(blocks.GRADIO_CACHE).resolve()
    keep = set()
    for component in blocks.blocks.values():  # examples are kept, as Gradio's delete_cache does
        keep.update(getattr(component, "keep_in_cache", ()))
    files = []
    for file_set in list(blocks.temp_file_sets):
        for name in list(file_set):  # a copy: Gradio adds files from other threads
            if name in keep:
                continue
            try:
                files.append((os.lstat(name).st_mtime, name, file_set))
            except OSError:
                file_set.discard(name)  # already gone
    files.sort(key=lambda f: f[0], reverse=True)  # newest first
    now = time.time()
    expired = [f for i, f in enumerate(files) if i >= MAX_CACHED_FILES or now - f[0] > DELETE_CACHE[1]]
    for _, name, file_set in expired:
        try:
            os.remove(name)
        except OSError:
            pass
        file_set.discard(name)
        parent = Path(name).resolve().parent
        if parent.parent == cache:  # Gradio's per-file folder: removed once empty
            try:
                parent.rmdir()
            except OSError:
                pass
    with os.scandir(cache) as entries:
        for entry in entries:
            if entry.name.startswith("tmp") and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                if st.st_size == 0 and now - st.st_mtime > CACHE_GRACE_S:
                    try:
                        os.remove(entry.path)
                    except OSError:
                        pass


def run_prediction(sequence: np.ndarray, horizon: int, model_key, source: str,
                   hidden: bool = False, progress=None) -> dict:
    """Predict ``horizon`` frames after the first 10 of ``sequence``; write the GIF and .npy.

    Returns a dict with ``gif``, ``npy`` (paths), ``report`` (JSON-able metrics), the arrays and, with
    ``hidden``, the per-layer hidden states.
    """
    t0 = time.perf_counter()
    horizon = check_horizon(horizon)
    if sequence.ndim != 3 or len(sequence) < CONTEXT + 1:
        raise gr.Error(f"A sequence needs at least {CONTEXT + 1} frames, got {len(sequence)}.")
    if progress is not None:
        progress(0.1, desc="Loading model")
    key, model = get_model(model_key)
    context, truth = sequence[:CONTEXT], sequence[CONTEXT : CONTEXT + horizon]
    if progress is not None:
        progress(0.3, desc="Predicting")
    pred, states = infer(model, context, horizon, hidden)
    if progress is not None:
        progress(0.7, desc="Rendering")
    out = new_output_dir()
    gif = viz.save_sequence_gif(out / "prediction.gif", context, truth if len(truth) else None, pred)
    npy = out / "prediction.npy"
    np.save(npy, pred)
    n = len(truth)
    per_frame = metrics.all_metrics(pred[:n], truth) if n else None
    baseline = metrics.all_metrics(metrics.copy_last_baseline(context, n), truth) if n else None
    report = {
        "model": key,
        "source": source,
        "context_frames": CONTEXT,
        "horizon": horizon,
        "ground_truth_frames": n,
        "metrics": metrics.summarize(per_frame) if n else None,
        "baseline_copy_last_frame": metrics.summarize(baseline) if n else None,
        "units": "mse/mae: sum over the 64x64 pixels of a frame (OpenSTL); psnr: dB; ssim: [-1, 1]",
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return {"gif": gif, "npy": str(npy), "report": report, "per_frame": per_frame,
            "baseline": baseline, "hidden": states, "config": model.config}


def metrics_table(per_frame, baseline) -> list[list]:
    if per_frame is None:
        return [["no ground truth", None, None, None, None]]
    rows = []
    for k in range(len(per_frame["mse"])):
        rows.append([f"t+{k + 1}", *(_r(per_frame[m][k], d) for m, d in TABLE_METRICS)])
    rows.append(["mean", *(_r(np.mean(per_frame[m]), d) for m, d in TABLE_METRICS)])
    rows.append(["copy last frame (mean)", *(_r(np.mean(baseline[m]), d) for m, d in TABLE_METRICS)])
    return rows


def _r(x, digits: int) -> float:
    return round(float(x), digits)


# --------------------------------------------------------------------------------------------------
# Handlers (UI: everything; API: GIF path, .npy path, metrics JSON with the default model)
# --------------------------------------------------------------------------------------------------
def _ui_outputs(result: dict, key, inspector_open) -> tuple:
    """The UI's outputs. The hidden-state pictures are drawn only while "Inspect the model" is open
    (most requests never look at them); their small summary goes to the user's gr.State so that
    opening the inspector later draws them without predicting again."""
    mse_df, ssim_df = metric_plots(result["per_frame"], result["baseline"])
    summary = (viz.hidden_state_summary(result["hidden"], result["config"], CONTEXT)
               if result["hidden"] is not None else None)
    space, chans = hidden_pictures(summary) if inspector_open is True else (None, None)
    return (result["gif"], mse_df, ssim_df, metrics_table(result["per_frame"], result["baseline"]),
            [result["gif"], result["npy"]], result["report"], space, chans, model_card(key), summary)


def hidden_pictures(summary) -> tuple:
    """(space, channels) pictures of a hidden-state summary, or (None, None) before any prediction."""
    if not isinstance(summary, dict):
        return None, None
    return viz.hidden_state_images(summary)


def open_inspector(summary):
    """The inspector was opened: remember it (for the next predictions) and draw the last one."""
    return True, *hidden_pictures(summary)


def close_inspector() -> bool:
    return False


def metric_plots(per_frame, baseline) -> tuple:
    """Two long-format tables (MSE, SSIM per frame, model vs copy-last-frame) for gr.LinePlot: the
    browser draws them, so the server spends no time rendering a figure."""
    if per_frame is None:
        return None, None
    rows = pd.DataFrame(viz.metric_rows(per_frame, baseline))
    return rows[rows.metric == "mse"], rows[rows.metric == "ssim"]


def _api_outputs(result: dict) -> tuple:
    return result["gif"], result["npy"], result["report"]


def _guard(fn):
    """Any unexpected failure becomes a readable gr.Error (never a traceback in the browser)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:
            raise gr.Error(f"Prediction failed: {type(e).__name__}: {e}") from None
    return wrapper


@_guard
def ui_predict_test(index, horizon, model_key, inspector_open=False, progress=gr.Progress()):
    h = check_horizon(horizon)  # the cheap checks first: bad input never waits for data or model
    seq = test_sequence(index)
    result = run_prediction(seq, h, model_key, f"test sequence {int(float(index))}", True, progress)
    return _ui_outputs(result, model_key, inspector_open)


@_guard
def ui_predict_generated(seed, n_digits, speed, horizon, model_key, inspector_open=False, progress=gr.Progress()):
    h = check_horizon(horizon)
    seq = generated_sequence(seed, n_digits, speed, CONTEXT + h)
    src = f"generated: seed {int(float(seed))}, {int(float(n_digits))} digit(s), speed {float(speed):g}"
    return _ui_outputs(run_prediction(seq, h, model_key, src, True, progress), model_key, inspector_open)


@_guard
def ui_predict_upload(file, horizon, model_key, inspector_open=False, progress=gr.Progress()):
    h = check_horizon(horizon)
    seq = uploaded_sequence(file)
    src = f"upload: {len(seq)} frames used"
    return _ui_outputs(run_prediction(seq, h, model_key, src, True, progress), model_key, inspector_open)


@_guard
def predict_test(index, horizon, progress=gr.Progress()):
    h = check_horizon(horizon)
    seq = test_sequence(index)
    return _api_outputs(run_prediction(seq, h, None, f"test sequence {int(float(index))}", False, progress))


@_guard
def predict_generated(seed, n_digits, speed, horizon, progress=gr.Progress()):
    h = check_horizon(horizon)
    seq = generated_sequence(seed, n_digits, speed, CONTEXT + h)
    src = f"generated: seed {int(float(seed))}, {int(float(n_digits))} digit(s), speed {float(speed):g}"
    return _api_outputs(run_prediction(seq, h, None, src, False, progress))


@_guard
def predict_upload(file, horizon, progress=gr.Progress()):
    h = check_horizon(horizon)
    seq = uploaded_sequence(file)
    return _api_outputs(run_prediction(seq, h, None, f"upload: {len(seq)} frames used", False, progress))


def random_index() -> int:
    return int(np.random.default_rng().integers(0, test_set_size()))


def refresh_models(current):
    """On page load: list the models present now (a checkpoint may have appeared since start)."""
    sources = model_sources()
    value = current if isinstance(current, str) and current in sources else default_model_key(sources)
    try:
        card = model_card(value)
    except gr.Error as e:
        card = f"⚠️ {e.message}"
    return gr.Dropdown(choices=model_choices(sources), value=value), model_status(value), card


@_guard
def select_model(key):
    return model_status(key), model_card(key)


# --------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------
_sources = model_sources()
_default = default_model_key(_sources)
_examples = [str(EXAMPLES_DIR / n) for n in ("two_digits.gif", "three_digits.npy") if (EXAMPLES_DIR / n).is_file()]

with gr.Blocks(title="framepred: MovingMNIST frame prediction", delete_cache=DELETE_CACHE) as demo:
    gr.Markdown(
        "# framepred: predicting the next frames of Moving MNIST\n"
        "A ConvLSTM reads **10 context frames** of two bouncing digits and predicts what comes next. "
        "Choose a sequence, then compare ground truth, prediction and error frame by frame, with the "
        "*copy the last frame* baseline for reference."
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Tabs():
                with gr.Tab("Test set"):
                    test_index = gr.Slider(0, test_set_size() - 1, value=0, step=1, label="Sequence index",
                                           info=test_source_label())
                    with gr.Row():
                        random_btn = gr.Button("Random sequence")
                        test_btn = gr.Button("Predict", variant="primary", elem_id="predict-test")
                    gr.Examples([[i] for i in (3, 42, 777) if i < test_set_size()], inputs=[test_index],
                                label="Examples")
                with gr.Tab("Generate"):
                    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
                    n_digits = gr.Slider(N_DIGITS_MIN, N_DIGITS_MAX, value=2, step=1, label="Digits")
                    speed = gr.Slider(SPEED_MIN, SPEED_MAX, value=1.0, step=SPEED_STEP, label="Speed",
                                      info="1 = the standard Moving MNIST speed")
                    gen_btn = gr.Button("Predict", variant="primary", elem_id="predict-generated")
                    gr.Examples([[0, 2, 1.0], [7, 1, 1.5], [2024, 3, 0.75]], inputs=[seed, n_digits, speed],
                                label="Examples")
                with gr.Tab("Upload"):
                    upload = gr.File(label="A .npy array (T, H, W[, C]) or an animated .gif, >= 11 frames",
                                     file_types=[".npy", ".gif"], type="filepath")
                    gr.Markdown(
                        f"Frames are turned grey and resized to 64 x 64. Limits: "
                        f"{uploads.MAX_FILE_BYTES // 2**20} MiB, {uploads.MIN_FRAMES}-{uploads.MAX_FRAMES} frames, "
                        f"frames {uploads.MIN_SIDE} x {uploads.MIN_SIDE} to {uploads.MAX_SIDE} x {uploads.MAX_SIDE}; "
                        "uint8 / integers 0..255 or floats in [0, 1]."
                    )
                    upload_btn = gr.Button("Predict", variant="primary", elem_id="predict-upload")
                    if _examples:
                        gr.Examples([[p] for p in _examples], inputs=[upload], label="Examples")
            horizon = gr.Slider(1, MAX_HORIZON, value=DEFAULT_HORIZON, step=1, label="Frames to predict",
                                info="Beyond the available ground truth only the prediction is shown")
            model_dd = gr.Dropdown(model_choices(_sources), value=_default, label="Model")
            status_md = gr.Markdown(model_status(_default))
        with gr.Column(scale=3, min_width=360):
            gif_out = gr.Image(label="Ground truth | prediction | |error|", type="filepath", show_label=False,
                               elem_id="result-gif", height=260)
            with gr.Row():
                mse_plot = gr.LinePlot(x="frame", y="value", color="series", title="MSE per frame (sum over pixels)",
                                       x_title="frame t+k", y_title="MSE", height=220, show_label=False)
                ssim_plot = gr.LinePlot(x="frame", y="value", color="series", title="SSIM per frame",
                                        x_title="frame t+k", y_title="SSIM", height=220, show_label=False)
            table_out = gr.Dataframe(headers=TABLE_HEADERS, label="Metrics per predicted frame",
                                     interactive=False, max_height=260)
            files_out = gr.File(label="Downloads: GIF and prediction .npy (horizon, 64, 64) float32",
                                file_count="multiple", interactive=False)
            with gr.Accordion("Inspect the model", open=False) as inspector:
                card_md = gr.Markdown()
                gr.Markdown(
                    "Hidden-state activity, mean |h| per layer, each layer on its own colour scale (dark = "
                    "quiet); the red line is where the context ends and the model starts predicting. "
                    "Top: averaged over channels (rows: layers, columns: time steps). Bottom: averaged over "
                    "space, one block per layer (rows: channels, columns: time steps)."
                )
                space_img = gr.Image(label="Hidden states over space", format="png", interactive=False,
                                     show_label=False, elem_id="hidden-space")
                chan_img = gr.Image(label="Hidden states per channel", format="png", interactive=False,
                                    show_label=False, elem_id="hidden-channels")
            with gr.Accordion("Metrics JSON", open=False):
                json_out = gr.JSON(label="metrics")

    # Per user: whether the inspector is open, and the last prediction's hidden-state summary.
    inspector_open, hidden_summary = gr.State(False), gr.State(None)
    ui_outputs = [gif_out, mse_plot, ssim_plot, table_out, files_out, json_out, space_img, chan_img, card_md,
                  hidden_summary]
    predict = {"concurrency_id": PREDICT_GROUP, "concurrency_limit": CONCURRENCY_LIMIT}  # one limit for all
    test_btn.click(ui_predict_test, [test_index, horizon, model_dd, inspector_open], ui_outputs,
                   api_visibility="private", **predict)
    gen_btn.click(ui_predict_generated, [seed, n_digits, speed, horizon, model_dd, inspector_open], ui_outputs,
                  api_visibility="private", **predict)
    upload_btn.click(ui_predict_upload, [upload, horizon, model_dd, inspector_open], ui_outputs,
                     api_visibility="private", **predict)
    inspector.expand(open_inspector, hidden_summary, [inspector_open, space_img, chan_img],
                     api_visibility="private")
    inspector.collapse(close_inspector, None, inspector_open, api_visibility="private")
    random_btn.click(random_index, None, test_index, api_visibility="private")
    model_dd.change(select_model, model_dd, [status_md, card_md], api_visibility="private")
    demo.load(refresh_models, model_dd, [model_dd, status_md, card_md], api_visibility="private")

    # The public API: (GIF, .npy, metrics JSON) out, default model; buttons and inputs stay hidden.
    # The numeric inputs are plain unbounded fields so that every value, also a wrong type or out of
    # range, reaches the app's own checks and gets a message naming the input and its range
    # (a bounded gr.Slider refuses a string with a generic error before the app sees it).
    api_index = gr.Number(0, label="Sequence index", visible=False)
    api_seed = gr.Number(0, label="Seed", visible=False)
    api_digits = gr.Number(2, label="Digits", visible=False)
    api_speed = gr.Number(1.0, label="Speed", visible=False)
    api_horizon = gr.Number(DEFAULT_HORIZON, label="Frames to predict", visible=False)
    api_npy = gr.File(visible=False)
    api_outputs = [gif_out, api_npy, json_out]
    gr.Button(visible=False).click(predict_test, [api_index, api_horizon], api_outputs, api_name="predict_test",
                                   **predict)
    gr.Button(visible=False).click(predict_generated, [api_seed, api_digits, api_speed, api_horizon],
                                   api_outputs, api_name="predict_generated", **predict)
    gr.Button(visible=False).click(predict_upload, [upload, api_horizon], api_outputs, api_name="predict_upload",
                                   **predict)

demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
# The GIF is small (2x panels); the browser enlarges it without blurring the pixels.
CSS = "#result-gif img { image-rendering: pixelated; }"
LAUNCH_KWARGS = {"max_file_size": MAX_FILE_SIZE, "css": CSS}

if __name__ == "__main__":
    demo.launch(**LAUNCH_KWARGS)  # GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured by Gradio
