"""Load a model (local directory or Hugging Face Hub id), pick a device, predict on numpy arrays."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import NamedTuple

import numpy as np
import torch

from .config import ConvLSTMConfig
from .data import to_unit_float
from .model import ConvLSTMSeq2Seq


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


NATIVE_BF16_ENV = "FRAMEPRED_NATIVE_BF16"  # "1"/"0": say the CPU has (or lacks) native bf16, whatever it has
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _kernels_capped() -> bool:
    """Whether the environment caps PyTorch's or oneDNN's kernels below native bf16 (e.g.
    ``ATEN_CPU_CAPABILITY=avx2`` or ``ONEDNN_MAX_CPU_ISA=AVX2``, to run as a common CPU does)."""
    aten = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return aten in ("default", "avx2") or (isa not in ("", "ALL", "DEFAULT") and "BF16" not in isa
                                           and "AMX" not in isa)


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` is a CPU with native bfloat16 arithmetic, AVX512-BF16 or AMX (without them
    bf16 is emulated and slower than float32).

    ``FRAMEPRED_NATIVE_BF16=0`` / ``1`` overrides what the CPU says (tests use it to run both cases on
    any machine); kernels capped below bf16 by ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA`` count
    as no native bf16, as on a CPU without it."""
    if torch.device(device).type != "cpu":
        return False
    forced = os.environ.get(NATIVE_BF16_ENV, "").strip().lower()
    if forced in _TRUE + _FALSE:
        return forced in _TRUE
    if forced:
        raise ValueError(f"{NATIVE_BF16_ENV} must be 1 or 0, got {forced!r}")
    return _cpu_has_bf16() and not _kernels_capped()


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX on this CPU (asked once: it does not change while the process runs)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private in torch.cpu: guarded
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_dtype(name: str | None, device: str | torch.device = "cpu") -> torch.dtype:
    """``"float32"``, ``"bfloat16"``, or ``"auto"``/None: bfloat16 on a CPU with native bf16 (about
    1.5x faster at batch 1, with metrics equal to float32's to 0.1 %: ``benchmarks/run.py``), else
    float32. Other names raise ValueError."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.bfloat16 if native_bf16(device) else torch.float32
    if name not in DTYPES:
        raise ValueError(f"precision must be auto, float32 or bfloat16, got {name!r}")
    return DTYPES[name]


# How CPU predictions share the cores (set by the app: framepred.serving.cpu.configure_threads).
# cores 0: leave torch's thread setting alone (the library's default). slots 0: no gate; each
# prediction takes cores / predictions running at that moment. slots k: at most k predictions run
# at once, each with cores / k threads; the others wait their turn.
_CPU = {"cores": 0, "slots": 0, "active": 0}
_CPU_LOCK = threading.Lock()
_CPU_GATE: list[threading.BoundedSemaphore | None] = [None]


def share_cpu(cores: int, slots: int = 0) -> None:
    """Let CPU predictions share ``cores`` threads: with ``slots`` 0, each prediction gets cores /
    the predictions running as it starts (a lone request uses every core); with ``slots`` k, at most
    k run at once with cores / k threads each (k = 1: one prediction at a time on every core).
    ``cores`` 0 switches this off (torch's own thread count is used, as for any library call)."""
    if cores < 0 or slots < 0:
        raise ValueError(f"cores and slots must be >= 0, got {cores}, {slots}")
    _CPU.update(cores=int(cores), slots=int(slots))
    _CPU_GATE[0] = threading.BoundedSemaphore(slots) if cores and slots else None


def cpu_share() -> dict[str, int]:
    """The current :func:`share_cpu` setting and how many CPU predictions are running now."""
    return dict(_CPU)


@contextlib.contextmanager
def _cpu_threads(device: torch.device):
    """Run one prediction with its share of the cores (see :func:`share_cpu`); yields the threads."""
    if device.type != "cpu" or not _CPU["cores"]:
        yield torch.get_num_threads()
        return
    gate = _CPU_GATE[0] or contextlib.nullcontext()
    with gate:
        with _CPU_LOCK:
            _CPU["active"] += 1
            threads = max(1, _CPU["cores"] // (_CPU["slots"] or _CPU["active"]))
        try:
            # Under OpenMP the count is per calling thread; torch sets a new thread's count lazily
            # at its first parallel call: ask once so that it does so now, not over ours.
            torch.get_num_threads()
            torch.set_num_threads(threads)
            yield threads
        finally:
            with _CPU_LOCK:
                _CPU["active"] -= 1


def load_model(
    source: str | os.PathLike,
    device: str | torch.device | None = None,
    *,
    revision: str | None = None,
    local_files_only: bool = False,
    config: ConvLSTMConfig | None = None,
) -> ConvLSTMSeq2Seq:
    """Load a saved model strictly from safetensors, in eval mode, on ``device`` (:func:`pick_device`).

    ``source`` is a directory holding ``config.json`` + ``model.safetensors`` (``save_pretrained``)
    or a Hub repo id ``"user/name"``: both files are downloaded into the Hugging Face cache (HF_HOME)
    on first use; with ``HF_HUB_OFFLINE=1`` or ``local_files_only`` only the cache is read. A source
    that cannot be had raises :class:`framepred.hub.ModelSourceError` (a FileNotFoundError and a
    ValueError) with a message for users; weights that do not fit the config raise RuntimeError.
    ``config``: the model's config when the caller has already read it (config.json is then not
    read again; the app reads it once to check it before any weights, ``framepred.serving.models``).
    """
    model = ConvLSTMSeq2Seq.from_pretrained(source, revision=revision, local_files_only=local_files_only,
                                            config=config)
    return model.to(pick_device(device)).eval()


def _as_batch(context: np.ndarray, image_size: int) -> tuple[np.ndarray, bool]:
    arr = np.asarray(context)
    single = arr.ndim == 3
    if single:
        arr = arr[None]  # (T, H, W) -> (1, T, H, W)
    if arr.ndim != 4 or arr.shape[-2:] != (image_size, image_size):
        raise ValueError(
            f"context must be (T, {image_size}, {image_size}) or (B, T, {image_size}, {image_size}),"
            f" got {tuple(np.shape(context))}"
        )
    if arr.shape[1] < 1:
        raise ValueError("context needs at least one frame")
    return to_unit_float(arr), single


class Prediction(NamedTuple):
    """Predicted frames and the hidden states behind them (:func:`predict_with_states`)."""

    frames: np.ndarray  # (horizon, H, W) or (B, horizon, H, W), float32 in [0, 1]
    hidden: list[np.ndarray]  # per layer (B, steps, hidden, h, w)


def predict(
    model: ConvLSTMSeq2Seq,
    context: np.ndarray,
    horizon: int,
    batch_size: int = 64,
    dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Predict ``horizon`` frames after ``context``.

    ``context``: ``(T, H, W)`` or ``(B, T, H, W)``, uint8 or float in [0, 1]. Returns float32 numpy
    ``(horizon, H, W)`` or ``(B, horizon, H, W)`` in [0, 1], in batches of ``batch_size``.

    ``dtype``: opt-in lower precision for the convolutions (``torch.bfloat16``, or ``torch.float16``
    on GPUs) under autocast; the LSTM cell states stay float32. Default: full float32.
    """
    return _predict(model, context, horizon, batch_size, dtype, keep_hidden=False).frames


def predict_with_states(model: ConvLSTMSeq2Seq, context: np.ndarray, horizon: int,
                        dtype: torch.dtype | None = None) -> Prediction:
    """As :func:`predict` (one sequence or one batch), also returning each layer's hidden states
    ``(B, steps, hidden, h, w)`` as numpy, for inspection."""
    return _predict(model, context, horizon, None, dtype, keep_hidden=True)


@torch.inference_mode()
def _predict(model, context, horizon, batch_size, dtype, keep_hidden: bool) -> Prediction:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    arr, single = _as_batch(context, model.config.image_size)
    device = next(model.parameters()).device
    if dtype is not None and dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype must be torch.float32, bfloat16 or float16, got {dtype!r}")
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32,
                              enabled=dtype not in (None, torch.float32))
    step = len(arr) if keep_hidden else batch_size  # the states of one batch, not a concatenation
    with _cpu_threads(device):
        outs, hidden = _run_batches(model, arr, int(horizon), step, autocast, keep_hidden)
    pred = np.concatenate(outs)
    return Prediction(pred[0] if single else pred, hidden)


def _run_batches(model, arr: np.ndarray, horizon: int, step: int, autocast, keep_hidden: bool):
    """The model over ``arr`` in batches of ``step``: (outputs per batch, hidden states or [])."""
    device = next(model.parameters()).device
    outs, hidden = [], []
    for i in range(0, len(arr), step):
        x = torch.from_numpy(arr[i : i + step]).to(device)[:, :, None]  # (B, T, 1, H, W)
        with autocast:
            if keep_hidden:
                y, hs = model.rollout(x, horizon)
                hidden = [h.float().cpu().numpy() for h in hs]
            else:
                y = model(x, horizon)
        outs.append(y[:, :, 0].float().cpu().numpy())  # (B, horizon, H, W)
    return outs, hidden
