"""Hugging Face ZeroGPU: one short GPU call per request, and none for the page's first view.

On ZeroGPU a Space holds a GPU only inside functions decorated with ``spaces.GPU``; each call waits
in a queue and is charged the duration it requests. The ``spaces`` package comes with ZeroGPU Spaces
(it is never listed in requirements.txt), so its presence is how this module knows where it runs;
elsewhere :func:`install` does nothing.

:func:`install` (called once by ``app.py``) routes the prediction pipeline's model calls through
:func:`run_jobs`, the one decorated function:

* every model of a request in **one** GPU call: the request's models are known when
  ``pipeline.predict`` / ``pipeline.compare`` is entered, so the pipeline's first model call predicts
  all of them and its later calls are answered from that result;
* a short requested duration (:data:`GPU_DURATION_S`);
* every served model loaded at start-up (a model loaded inside a GPU call would be loaded again in
  every call, in the GPU worker, on GPU time);
* the page's first view computed once at start-up on the CPU (``warm``) and kept, so opening the page
  costs no GPU time.

Arguments cross into the GPU worker by pickling, so the GPU function takes model keys, numpy arrays
and dtype names, never a module.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import inference
from . import models

log = logging.getLogger(__name__)

# A request's model work is under a second on a GPU (2 models x 30 frames of the 1 M-parameter
# default; the seed preset is ~8x that); the rest is the worker's first CUDA call. A short request
# also gets a better place in ZeroGPU's queue.
GPU_DURATION_S = 5

Job = tuple[str, bool, str]  # (model key, keep the hidden states, dtype name)
Output = tuple[np.ndarray, list | None]  # (prediction (horizon, 64, 64), hidden states or None)


def spaces_module():
    """The ``spaces`` package where it is installed (a ZeroGPU Space), else None."""
    try:
        import spaces
    except ImportError:
        return None
    return spaces


def _run(jobs: list[Job], context: np.ndarray, horizon: int, on_cpu: bool = False) -> list[Output]:
    """Predict with each job's model, looked up by key (preloaded); ``on_cpu``: a CPU copy."""
    out = []
    for key, hidden, dtype in jobs:
        model = _cpu_model(key) if on_cpu else models.get_model(key).model
        dt = inference.resolve_dtype(dtype)
        if hidden:
            frames, states = inference.predict_with_states(model, context, horizon, dtype=dt)
            out.append((frames, states))
        else:
            out.append((inference.predict(model, context, horizon, dtype=dt), None))
    return out


def run_jobs(jobs: list[Job], context: np.ndarray, horizon: int) -> list[Output]:
    """Every model of one request, in one GPU call (decorated below on ZeroGPU)."""
    return _run(jobs, context, horizon)


_spaces = spaces_module()
gpu_run_jobs = _spaces.GPU(duration=GPU_DURATION_S)(run_jobs) if _spaces is not None else run_jobs


@functools.lru_cache(maxsize=models.MODEL_CACHE_SIZE)
def _cpu_model(key: str):
    """A CPU copy of a served model, for the start-up predictions (the served one may be on CUDA)."""
    loaded = models.get_model(key)
    if next(loaded.model.parameters()).device.type == "cpu" or loaded.folder is None:
        return loaded.model
    return inference.load_model(loaded.folder, "cpu")


# -- one GPU call per request -------------------------------------------------------------------------
@dataclass
class _Plan:
    """The models of the request being served (as the pipeline will name them) and what the first
    GPU call already predicted for the others."""

    keys: list[str]
    done: dict[tuple, Output] = field(default_factory=dict)


_plan: ContextVar[_Plan | None] = ContextVar("framepred_zerogpu_plan", default=None)
_recording: ContextVar[bool] = ContextVar("framepred_zerogpu_recording", default=False)
_kept: dict[tuple, Output] = {}  # computed at start-up on the CPU (the first view): never costs GPU time


def _digest(context: np.ndarray, horizon: int) -> tuple:
    arr = np.ascontiguousarray(context)
    return arr.shape, str(arr.dtype), int(horizon), hashlib.sha256(arr.tobytes()).hexdigest()


def _copy(output: Output) -> Output:
    frames, states = output
    return frames.copy(), None if states is None else [s.copy() for s in states]


def infer(key: str, context: np.ndarray, horizon: int, hidden: bool, dtype: str = "float32") -> Output:
    """The pipeline's model call (``pipeline.infer``'s signature), answered from what start-up kept,
    from this request's GPU call, or by one GPU call for every model of the request not yet done."""
    where = _digest(context, horizon)
    job = (key, bool(hidden), dtype)
    if (job, where) in _kept:
        return _copy(_kept[(job, where)])
    if _recording.get():  # start-up: on the CPU, kept for every later request like it
        _kept[(job, where)] = _run([job], context, horizon, on_cpu=True)[0]
        return _copy(_kept[(job, where)])
    plan = _plan.get()
    if plan is not None and (job, where) in plan.done:
        return plan.done.pop((job, where))
    others = [] if plan is None else [j for j in map(_job_of, plan.keys) if j is not None and j[0] != key
                                      and (j, where) not in plan.done]
    outputs = gpu_run_jobs([job, *others], context, horizon)
    if plan is not None:
        plan.done.update({(j, where): o for j, o in zip(others, outputs[1:])})
    return outputs[0]


def _job_of(key: str) -> Job | None:
    """The job the pipeline will ask for another model of the request (no hidden states: the
    pipeline keeps them for the first model only); None for a model it will refuse itself."""
    try:
        return key, False, models.precision(next(models.get_model(key).model.parameters()).device)
    except ValueError:
        return None


def _request_keys(fn: Callable, args: tuple, kwargs: dict) -> list[str]:
    """The model keys a ``pipeline.predict`` / ``compare`` call will predict with, resolved as the
    pipeline resolves them (None / "": the default; compare's missing b: the other model). Unknown
    names are kept: the pipeline refuses them itself, in its own order."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    given = bound.arguments
    if "models" in given:
        return [k or models.default_model_key() for k in given["models"]]
    a = given.get("model_a") or models.default_model_key()
    b = given.get("model_b") or models.other_model_key(a)
    return [k for k in (a, b) if k]


def planned(fn: Callable) -> Callable:
    """``fn`` (a pipeline request) with its models known to :func:`infer` while it runs."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            keys = _request_keys(fn, args, kwargs)
        except (TypeError, ValueError):  # arguments the pipeline itself will refuse with a message
            keys = []
        token = _plan.set(_Plan(keys))
        try:
            return fn(*args, **kwargs)
        finally:
            _plan.reset(token)
    return wrapper


def preload_all() -> list[str]:
    """Load every served model now; returns the messages of those that cannot be loaded."""
    errors = []
    for key in list(models.model_sources())[: models.MODEL_CACHE_SIZE]:
        try:
            models.get_model(key)
        except ValueError as e:
            errors.append(str(e))
    return errors


def install(pipeline, warm: Callable[[], object] | None = None) -> bool:
    """On ZeroGPU: preload every model, route ``pipeline``'s model calls through one GPU call per
    request, then run ``warm`` (the page's first view) once on the CPU and keep its predictions.
    Elsewhere nothing changes. Returns whether ZeroGPU serving is on."""
    if _spaces is None:
        return False
    for message in preload_all():
        log.warning("ZeroGPU start-up: %s", message)
    pipeline.infer = infer
    pipeline.predict = planned(pipeline.predict)
    pipeline.compare = planned(pipeline.compare)
    if warm is not None:
        token = _recording.set(True)
        try:
            warm()
        except Exception as e:  # the first view will then take a GPU call; the app still starts
            log.warning("ZeroGPU start-up: first view not precomputed: %s: %s", type(e).__name__, e)
        finally:
            _recording.reset(token)
    return True
