"""MovingMNIST made on the device: framepred.data's generator rule in torch, for train/gpu_run.py.

framepred.data draws with numpy on the CPU; at hundreds of sequences per step that would starve a
GPU. This module makes the same sequences on the device from the same kind of draws (:class:`Draws`):
start positions uniform in [0, 1]^2, directions uniform in [0, 2pi), steps of 0.1 x speed of the
free range per frame, a coordinate leaving [0, 1] clamped and its velocity negated, pixels
``floor(36 * position + phase)``, digits pasted with ``max``, frames ``uint8 / 255`` in float32.
Given the numbers ``framepred.data.generate`` draws, :func:`render` returns its frames bit for bit
(tests/test_gpu_run.py feeds both the same draws); :func:`draw` draws them on the device with the
settings rules of ``draw_settings`` / ``draw_bar_settings`` (a torch generator, so another stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from framepred import data as fdata

MIXES = ("bar", "mixed", "standard")  # as train.py --data


@dataclass
class Draws:
    """The random numbers behind ``N`` sequences of ``K`` digit slots (float64 like numpy's)."""

    pos0: Tensor  # (N*K, 2) start (y, x) in [0, 1], slot-major within a sequence
    theta: Tensor  # (N*K,) direction in radians
    which: Tensor  # (N, K) int64 digit indices
    n_digits: Tensor  # (N,) int64: slots >= n_digits stay empty
    speed: Tensor  # (N, K)
    phase: Tensor  # (N, 2) sub-pixel phase of the grid, (y, x) in [0, 1)


def trajectories(pos0: Tensor, theta: Tensor, speed: Tensor, phase: Tensor, seq_len: int,
                 canvas: int = fdata.CANVAS) -> Tensor:
    """Top-left digit positions ``(M, seq_len, 2)`` int64 (y, x): ``framepred.data.trajectories``.

    ``pos0 (M, 2)``, ``theta (M,)``, ``speed (M,)``, ``phase (M, 2)``, all float64."""
    vel = torch.stack([torch.sin(theta), torch.cos(theta)], dim=1) * (fdata.STEP_LENGTH * speed)[:, None]  # (M, 2)
    pos, out = pos0, []
    for _ in range(seq_len):
        out.append(pos)
        pos = pos + vel
        vel = torch.where((pos <= 0.0) | (pos >= 1.0), -vel, vel)
        pos = pos.clamp(0.0, 1.0)
    free = canvas - fdata.DIGIT
    # Phase 0 is numpy's truncation exactly: x + 0.0 == x, and floor == truncation for x >= 0.
    return torch.floor(torch.stack(out, dim=1) * free + phase[:, None, :]).clamp(0, free).long()  # (M, T, 2)


_UNIT = torch.from_numpy(np.arange(256, dtype=np.float32) / np.float32(255))  # numpy's uint8 -> [0, 1]


def render(digits: Tensor, draws: Draws, seq_len: int = fdata.SEQ_LEN) -> Tensor:
    """Sequences ``(N, seq_len, 64, 64)`` float32 in [0, 1] from ``digits`` ``(D, 28, 28)`` (uint8
    values, any dtype, on the device) and ``draws``: ``framepred.data.generate``'s frames."""
    n, k = draws.which.shape
    dev = digits.device
    slot_speed = draws.speed[:, :k].reshape(-1)  # (N*K,)
    slot_phase = draws.phase.repeat_interleave(k, dim=0)  # (N*K, 2), as numpy's np.repeat
    pos = trajectories(draws.pos0, draws.theta, slot_speed, slot_phase, seq_len).view(n, k, seq_len, 2)
    pix = torch.arange(fdata.CANVAS, device=dev)  # (64,)
    offs = torch.arange(fdata.DIGIT, device=dev)  # (28,)
    canvas = torch.zeros(n, seq_len, fdata.CANVAS, fdata.CANVAS, device=dev)
    for j in range(k):
        # Placing a digit is a product with one-hot matrices: rows (N, T, 64, 28) @ patch @ cols
        # (N, T, 28, 64). Every output pixel has at most one non-zero term, an integer <= 255: exact.
        rows = (pix[:, None] == pos[:, j, :, 0, None, None] + offs).float()  # (N, T, 64, 28)
        cols = (pix == pos[:, j, :, 1, None, None] + offs[:, None]).float()  # (N, T, 28, 64)
        shown = (j < draws.n_digits).float()[:, None, None]  # (N, 1, 1): unused slots stay empty
        patch = digits[draws.which[:, j]].float() * shown  # (N, 28, 28)
        canvas = torch.maximum(canvas, rows @ patch[:, None] @ cols)  # (N, T, 64, 64)
    # A table, not a division: the device may divide by multiplying with 1/255 (not bit-exact).
    return _UNIT.to(dev)[canvas.long()]


def draw(gen: torch.Generator, n: int, n_digit_images: int, mix: str = "bar",
         standard_fraction: float | None = None, same_speed_fraction: float | None = None,
         shifted_fraction: float = fdata.BAR_SHIFTED_FRACTION,
         same_speed_range: tuple[float, float] = fdata.SAME_SPEED_RANGE) -> Draws:
    """Draws for ``n`` sequences on ``gen``'s device, by the rules of train.py's ``--data``.

    ``bar``: :func:`framepred.data.draw_bar_settings` (with its ``shifted_fraction`` and
    ``same_speed_range``); ``mixed``:
    ``draw_settings`` (a quarter standard); ``standard``: 2 digits, speed 1. Fractions default to
    those functions' defaults."""
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}, got {mix!r}")
    dev = gen.device

    def uniform(*shape: int) -> Tensor:
        return torch.rand(shape, generator=gen, device=dev, dtype=torch.float64)

    k = fdata.DIGITS_RANGE[1] if mix != "standard" else 2
    if mix == "standard":
        n_digits = torch.full((n,), 2, device=dev)
        speed = torch.ones(n, k, device=dev, dtype=torch.float64)
        phase = torch.zeros(n, 2, device=dev, dtype=torch.float64)
    else:
        std = standard_fraction if standard_fraction is not None else (
            fdata.BAR_STANDARD_FRACTION if mix == "bar" else fdata.MIXED_STANDARD_FRACTION)
        same_frac = (same_speed_fraction if same_speed_fraction is not None else fdata.BAR_SAME_SPEED_FRACTION
                     ) if mix == "bar" else 0.0
        kind = uniform(n)
        standard = kind < std  # (n,)
        same = ~standard & (kind < std + same_frac)
        lo, hi = math.log(fdata.SPEED_RANGE[0]), math.log(fdata.SPEED_RANGE[1])
        speed = torch.exp(lo + (hi - lo) * uniform(n, k))  # a speed per digit, log-uniform
        s_lo, s_hi = math.log(same_speed_range[0]), math.log(same_speed_range[1])
        one = torch.exp(s_lo + (s_hi - s_lo) * uniform(n))[:, None]  # (n, 1)
        phase = uniform(n, 2)
        d0, d1 = fdata.DIGITS_RANGE
        n_digits = torch.randint(d0, d1 + 1, (n,), generator=gen, device=dev)
        truncated = uniform(n) >= shifted_fraction if shifted_fraction > 0 else torch.ones_like(standard)
        speed = torch.where(same[:, None], one, speed)
        n_digits = torch.where(standard, 2, n_digits)
        speed = torch.where(standard[:, None], 1.0, speed)
        phase = torch.where(((same | standard) & truncated)[:, None], 0.0, phase)
    pos0 = uniform(n * k, 2)
    theta = uniform(n * k) * (2 * math.pi)
    which = torch.randint(0, n_digit_images, (n, k), generator=gen, device=dev)
    return Draws(pos0, theta, which, n_digits, speed, phase)


def batch(digits: Tensor, gen: torch.Generator, n: int, mix: str = "bar", seq_len: int = fdata.SEQ_LEN,
          **fractions) -> Tensor:
    """``n`` fresh training sequences ``(n, seq_len, 1, 64, 64)`` on the device, without a host sync."""
    return render(digits, draw(gen, n, len(digits), mix, **fractions), seq_len)[:, :, None]
