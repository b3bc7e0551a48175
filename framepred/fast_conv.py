"""Fast inference convolution on CPU: oneDNN with weights reordered once and cached.

At batch 1, PyTorch sends some of our small float32 convolutions (the first layer's, the 1x1 head)
to its slow im2col path, and every oneDNN call reorders the weights into oneDNN's blocked layout
again. Without autograd on CPU, :func:`conv2d` therefore calls oneDNN directly with weights
reordered once per (dtype, input shape, weight version) and cached outside the module (state_dict,
pickling and deepcopy never see the cache). Training (autograd on) and other devices use the
ordinary ``nn.Conv2d`` call.

:func:`stats` counts the calls that took the fast path and those that fell back, so that tests and
benchmarks can prove which path ran.
"""

from __future__ import annotations

import weakref

import torch
from torch import Tensor, nn

_PREPACKED: "weakref.WeakKeyDictionary[nn.Conv2d, dict]" = weakref.WeakKeyDictionary()
_FAST_CONV = {"enabled": torch.backends.mkldnn.is_available()}
# Dtypes whose oneDNN call raised in this process (e.g. bf16 on a CPU without AVX-512: oneDNN refuses
# it there). Per dtype: one bf16 request must not send every later float32 prediction to the slow path.
_FAILED: set[torch.dtype] = set()
# Call counters. Plain increments: under concurrent requests a count may be off by a few, which is
# fine for a diagnostic and cheaper than a lock on every convolution.
_STATS = {"fast": 0, "fallback": 0}


def set_fast_conv(enabled: bool) -> None:
    """Turn the cached-oneDNN inference convolution on or off (on by default where available);
    either way, dtypes that failed before are tried again."""
    _FAST_CONV["enabled"] = bool(enabled) and torch.backends.mkldnn.is_available()
    _FAILED.clear()
    _PREPACKED.clear()


def fast_conv_enabled(dtype: torch.dtype = torch.float32) -> bool:
    """Whether :func:`conv2d` may take the fast path in ``dtype`` (switched on, available, and never
    failed in that dtype)."""
    return _FAST_CONV["enabled"] and dtype in (torch.float32, torch.bfloat16) and dtype not in _FAILED


def failed_dtypes() -> set[torch.dtype]:
    """The dtypes whose fast path failed in this process (they use ``nn.Conv2d`` from then on)."""
    return set(_FAILED)


def stats() -> dict[str, int]:
    """Calls of :func:`conv2d` so far: ``{"fast": oneDNN calls, "fallback": nn.Conv2d calls}``."""
    return dict(_STATS)


def reset_stats() -> None:
    """Set both :func:`stats` counters to zero."""
    _STATS["fast"] = _STATS["fallback"] = 0


def _fast_conv_dtype(conv: nn.Conv2d, x: Tensor) -> torch.dtype | None:
    """The dtype to run ``conv`` in through oneDNN, or None for the ordinary module call."""
    if (not _FAST_CONV["enabled"] or torch.is_grad_enabled()
            or x.device.type != "cpu" or not torch.backends.mkldnn.enabled
            or conv.padding_mode != "zeros" or isinstance(conv.padding, str)):
        return None
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    if not fast_conv_enabled(dtype) or conv.weight.dtype != torch.float32:
        return None
    if conv.weight.is_inference():  # made under inference_mode: no version counter to key the cache
        return None
    return dtype


def _fallback(conv: nn.Conv2d, x: Tensor) -> Tensor:
    _STATS["fallback"] += 1
    return conv(x)


def conv2d(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` for x ``(N, C_in, H, W)`` -> ``(N, C_out, H', W')``, through oneDNN with cached
    reordered weights when autograd is off on CPU.

    Same arithmetic as ``conv(x)`` up to float rounding; under CPU autocast (bf16) the output is
    bf16 like ``conv(x)``'s.
    """
    dtype = _fast_conv_dtype(conv, x)
    if dtype is None:
        return _fallback(conv, x)
    w, b = conv.weight, conv.bias
    key = (dtype, tuple(x.shape), w._version, w.data_ptr(), None if b is None else (b._version, b.data_ptr()))
    entry = _PREPACKED.get(conv)
    try:
        if entry is None or entry["key"] != key:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                w.detach().to(dtype), list(conv.padding), list(conv.stride), list(conv.dilation),
                conv.groups, list(x.shape))
            entry = {"key": key, "w": packed, "b": None if b is None else b.detach().to(dtype)}
            _PREPACKED[conv] = entry
        y = torch.ops.mkldnn._convolution_pointwise(
            x.to(dtype).contiguous(), entry["w"], entry["b"], list(conv.padding), list(conv.stride),
            list(conv.dilation), conv.groups, "none", [], "")
    except (RuntimeError, AttributeError, NotImplementedError):  # a build without these ops, bf16 w/o AVX-512
        _FAILED.add(dtype)  # this dtype only: the others keep their fast path and their cached weights
        return _fallback(conv, x)
    _STATS["fast"] += 1
    return y
