"""Which models the app may serve, and loading them safely (config checked before any weights).
How the app's predictions share the CPUs is :mod:`.cpu`.

Only folders under the checkpoints directory (``FRAMEPRED_CHECKPOINTS_DIR``, default
``checkpoints/``) and ``FRAMEPRED_MODEL`` (a local folder or a Hub repo id) can ever be loaded; a
request names one by its key. Loaded models are cached (the only global state of the serving layer).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import data, hub, inference
from ..config import CONFIG_NAME, ConvLSTMConfig, read_config_file
from ..hub import WEIGHTS_NAME
from ..model import ConvLSTMSeq2Seq
from .validate import shown

# Where the served models live unless FRAMEPRED_CHECKPOINTS_DIR says otherwise: relative to the
# current directory (the repository root for `python app.py` and a Space), so that it means the same
# with framepred installed from a wheel as in a checkout.
DEFAULT_CHECKPOINTS_DIR = "checkpoints"
UNTRAINED = "untrained"  # key of the random-weights fallback when no checkpoint exists
UNTRAINED_SEED = 0
MODEL_CACHE_SIZE = 4  # models kept loaded
MAX_MODEL_PARAMETERS = 20_000_000  # a config.json asking for more is refused before anything is built
MAX_MODEL_LAYERS = 32  # ConvLSTM layers in such a config


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict, with where it came from."""

    key: str  # what the request named (dropdown value)
    source: str  # local folder or Hub id ("" for the untrained fallback)
    folder: Path | None  # local folder with config, weights, card files (a Hub snapshot for Hub ids)
    model: ConvLSTMSeq2Seq


def checkpoints_dir() -> Path:
    """The folder scanned for models: ``FRAMEPRED_CHECKPOINTS_DIR``, else ``./checkpoints``."""
    return Path(os.environ.get("FRAMEPRED_CHECKPOINTS_DIR") or DEFAULT_CHECKPOINTS_DIR).resolve()


def env_model() -> str:
    return os.environ.get("FRAMEPRED_MODEL", "").strip()


def model_sources() -> dict[str, str]:
    """Key -> model source (local directory or Hub id); re-read on every call (checkpoints may
    appear while the app runs). ``FRAMEPRED_MODEL`` comes first, then ``default``, then the rest."""
    sources: dict[str, str] = {}
    if env_model():
        sources[env_model()] = env_model()
    root = checkpoints_dir()
    if root.is_dir():
        found = [d for d in sorted(root.iterdir())
                 if d.is_dir() and (d / CONFIG_NAME).is_file() and (d / WEIGHTS_NAME).is_file()]
        found.sort(key=lambda d: d.name != "default")  # stable: default first, others by name
        for d in found:
            sources.setdefault(d.name, str(d))
    if not sources:
        sources[UNTRAINED] = ""
    return sources


def default_model_key(sources: dict[str, str] | None = None) -> str:
    return next(iter(model_sources() if sources is None else sources))


def other_model_key(key: str, sources: dict[str, str] | None = None) -> str | None:
    """The model to compare ``key`` with when none is named: the first other one, if any."""
    sources = model_sources() if sources is None else sources
    return next((k for k in sources if k != key), None)


def model_choices(sources: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, key) pairs for a dropdown."""
    sources = model_sources() if sources is None else sources
    labels = []
    for key, src in sources.items():
        if key == UNTRAINED and not src:
            labels.append(("untrained (random weights: no checkpoint found)", key))
        elif key == env_model():
            labels.append((f"{key} (FRAMEPRED_MODEL)", key))
        else:
            labels.append((f"{key} (checkpoints/{key})", key))
    return labels


def check_config(cfg: ConvLSTMConfig) -> None:
    """Refuse a config the app cannot serve before any weights are allocated or read.

    The architecture is built on PyTorch's ``meta`` device (no memory) to count its parameters, so a
    config asking for a huge network fails here instead of exhausting the server's memory.
    """
    try:
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


@functools.lru_cache(maxsize=16)
def _hub_folder(source: str) -> Path:
    """A Hub id's files, downloaded once per process (failures are not cached: retried next time)."""
    return Path(hub.model_dir(source))


def local_folder(source: str) -> Path | None:
    """The local folder holding a source's files, None for the untrained fallback: where the app
    resolves a source (a folder is itself; a Hub id is downloaded once per process)."""
    if not source:
        return None
    return Path(source) if Path(source).is_dir() else _hub_folder(source)


@functools.lru_cache(maxsize=MODEL_CACHE_SIZE)
def _load(source: str, folder: Path | None, version: int, device: str) -> ConvLSTMSeq2Seq:
    """Load (and keep) one model from its resolved ``folder``: its config.json is read and checked
    once, before any weights, and handed to the loader; ``version`` (the weights' mtime) reloads
    re-exported checkpoints."""
    if folder is None:  # no checkpoint anywhere: random weights, clearly labelled as untrained
        with torch.random.fork_rng(devices=[]):  # reproducible weights, global RNG untouched
            torch.manual_seed(UNTRAINED_SEED)
            model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("default"))
        return model.to(device).eval()
    config = read_config_file(folder / CONFIG_NAME, source)
    check_config(config)
    return inference.load_model(folder, device, config=config)


def get_model(key) -> LoadedModel:
    """Validate a requested model key against the known models and load it (a request looks each of
    its models up once, :mod:`.pipeline`; loaded models are kept).

    ``None`` or ``""`` means the default model. Raises ``ValueError`` with a message for the user:
    unknown keys, and models that cannot be loaded (the default keeps serving).
    """
    sources = model_sources()
    default = default_model_key(sources)
    key = default if key in (None, "") else key
    if not isinstance(key, str) or key not in sources:
        raise ValueError(f"Unknown model {shown(key)}. Available: {', '.join(sources)}.")
    source = sources[key]
    folder = None
    try:
        folder = local_folder(source)
        weights = None if folder is None else folder / WEIGHTS_NAME
        version = weights.stat().st_mtime_ns if weights is not None and weights.is_file() else 0
        model = _load(source, folder, version, inference.pick_device().type)
    except Exception as e:  # corrupt, mismatched, missing or unreachable: say so, keep serving
        hint = f" The default model '{default}' is still available." if key != default else ""
        text = str(e)
        if folder is not None and Path(source).is_dir():  # never show server paths: name the model
            text = text.replace(str(folder), key).replace(source, key)
        detail = " ".join(text.split())[:300]  # one line, bounded
        raise ValueError(f"Could not load model '{key}': {type(e).__name__}: {detail}.{hint}") from None
    return LoadedModel(key, source, folder, model)


def preload_default() -> str | None:
    """Load the default model now (app start-up), so that the first visitor does not wait for it.
    Returns an error message instead of raising: the app still starts and says what is wrong."""
    try:
        loaded = get_model(None)
        precision(next(loaded.model.parameters()).device)  # a bad FRAMEPRED_DTYPE is said now too
    except ValueError as e:
        return str(e)
    return None


def precision(device: torch.device) -> str:
    """The name of the dtype the app predicts in on ``device`` ("float32" or "bfloat16"):
    ``FRAMEPRED_DTYPE`` (auto | float32 | bfloat16; default auto: bfloat16 on a CPU with native
    bf16, else float32; :func:`framepred.inference.resolve_dtype`)."""
    return str(inference.resolve_dtype(os.environ.get("FRAMEPRED_DTYPE"), device)).removeprefix("torch.")
