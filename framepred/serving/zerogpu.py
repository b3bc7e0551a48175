"""Hugging Face ZeroGPU: one short GPU call per request, and none for the page's first view.

On ZeroGPU a Space holds a GPU only inside functions decorated with ``spaces.GPU``; each call waits
in a queue and is charged the duration it requests. The ``spaces`` package comes with ZeroGPU Spaces
(it is never listed in requirements.txt), so whether it imports is how this module knows where it
runs; it is decided once, when this module is imported.

* :func:`gpu` decorates the one function that runs a request's models
  (``framepred.serving.pipeline.infer_all``: both models of a comparison in the same call) with
  ``spaces.GPU`` and a short requested duration (:data:`GPU_DURATION_S`); elsewhere it returns the
  function unchanged.
* :func:`start_up` (called once by ``app.py``) loads every served model (a model loaded inside a GPU
  call would be loaded again in every call, in the GPU worker, on GPU time) and runs the app's
  precomputation of the page's first view (``pipeline.precompute``: on the CPU, kept), so opening
  the page costs no GPU time. Elsewhere it does nothing.

Arguments cross into the GPU worker by pickling, so the GPU function takes model keys, a numpy array
and dtype names, never a module.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from . import models

log = logging.getLogger(__name__)

# A request's model work is under a second on a GPU (2 models x 30 frames of the 1 M-parameter
# default; the seed preset is ~8x that); the rest is the worker's first CUDA call. A short request
# also gets a better place in ZeroGPU's queue.
GPU_DURATION_S = 5

F = TypeVar("F", bound=Callable)


def spaces_module():
    """The ``spaces`` package where it is installed (a ZeroGPU Space), else None."""
    try:
        import spaces
    except ImportError:
        return None
    return spaces


_spaces = spaces_module()
ENABLED = _spaces is not None  # serving on ZeroGPU


def gpu(fn: F) -> F:
    """``fn`` run in a ZeroGPU call of :data:`GPU_DURATION_S` seconds on ZeroGPU; elsewhere ``fn``."""
    return _spaces.GPU(duration=GPU_DURATION_S)(fn) if _spaces is not None else fn


def preload_all() -> list[str]:
    """Load every served model now; returns the messages of those that cannot be loaded."""
    errors = []
    for key in list(models.model_sources())[: models.MODEL_CACHE_SIZE]:
        try:
            models.get_model(key)
        except ValueError as e:
            errors.append(str(e))
    return errors


def start_up(first_view: Callable[[], object] | None = None) -> bool:
    """On ZeroGPU: load every served model, then run ``first_view`` once (the page's first view,
    precomputed on the CPU). Elsewhere nothing runs. Returns whether ZeroGPU serving is on."""
    if not ENABLED:
        return False
    for message in preload_all():
        log.warning("ZeroGPU start-up: %s", message)
    if first_view is not None:
        try:
            first_view()
        except Exception as e:  # the first view will then take a GPU call; the app still starts
            log.warning("ZeroGPU start-up: first view not precomputed: %s: %s", type(e).__name__, e)
    return True
