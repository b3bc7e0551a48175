"""An independent MovingMNIST generator, for evaluating models away from the training generator.

Written separately from ``framepred.data.generate`` (it shares none of its code) so that a model is
scored on sequences whose pixel grid, bounce rule and random stream are not the ones it trained on:

* digits: the 1000 held-out digits, ``framepred.data.load_digits("test")`` (never training digits);
* a digit's top-left corner is a float pixel coordinate in [0, 36] (a 28 px digit on a 64 px canvas),
  starting uniform in that square, moving in a uniform direction by ``3.6 * speed`` px per frame;
* at a wall it bounces as the protocol says (``bounce="clamp"``: the position is clamped to the wall
  and that velocity component negated); ``bounce="reflect"`` mirrors the overshoot back inside
  instead, as other generators do;
* it is placed on the canvas by truncating the float position to whole pixels, the protocol's grid;
  ``half_pixel=True`` adds 0.5 px to both coordinates first (i.e. rounds; clipped to the canvas), so
  the same seed gives the same digits and paths, each digit moved by 0 or 1 px per axis: the only
  difference is the pixel grid;
* overlapping digits combine with ``max``; everything is driven by one ``np.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANVAS = 64
DIGIT = 28
FREE = float(CANVAS - DIGIT)  # 36 px of travel per axis
STEP_PX = 3.6  # px per frame at speed 1 (a tenth of the free range)


@dataclass(frozen=True)
class Sequences:
    """Generated sequences and how they were made.

    ``frames``: uint8 ``(N, T, 64, 64)``; ``positions``: float ``(N, K, T, 2)`` top-left (row, col)
    in [0, 36]; ``pixels``: int ``(N, K, T, 2)``, where each digit was drawn; ``which``: ``(N, K)``
    indices into the digit array.
    """

    frames: np.ndarray
    positions: np.ndarray
    pixels: np.ndarray
    which: np.ndarray


def _reflect(pos: np.ndarray, vel: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Mirror coordinates that left [0, limit] back inside, negating those velocity components."""
    pos, vel = pos.copy(), vel.copy()
    while True:  # one pass unless a step is longer than the free range
        below, above = pos < 0.0, pos > limit
        if not (below.any() or above.any()):
            return pos, vel
        pos[below] = -pos[below]
        pos[above] = 2.0 * limit - pos[above]
        vel[below | above] = -vel[below | above]


def _clamp(pos: np.ndarray, vel: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates that reached a wall stay on it; those velocity components are negated."""
    hit = (pos <= 0.0) | (pos >= limit)
    return np.clip(pos, 0.0, limit), np.where(hit, -vel, vel)


def paths(rng: np.random.Generator, n: int, k: int, seq_len: int,
          speed: float | np.ndarray = 1.0, bounce: str = "clamp") -> np.ndarray:
    """Float top-left positions ``(n, k, seq_len, 2)`` (row, col) in [0, 36].

    ``speed``: a float, or one per digit broadcastable to ``(n, k)``; ``bounce``: "clamp" or "reflect".
    """
    if bounce not in ("clamp", "reflect"):
        raise ValueError(f"bounce must be 'clamp' or 'reflect', got {bounce!r}")
    wall = _clamp if bounce == "clamp" else _reflect
    speed = np.broadcast_to(np.asarray(speed, np.float64), (n, k))
    pos = rng.uniform(0.0, FREE, size=(n, k, 2))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=(n, k))
    vel = STEP_PX * speed[..., None] * np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (n, k, 2)
    out = np.empty((n, k, seq_len, 2))
    for t in range(seq_len):
        out[:, :, t] = pos
        pos, vel = wall(pos + vel, vel, FREE)
    return out


def to_pixels(positions: np.ndarray, half_pixel: bool = False) -> np.ndarray:
    """Truncate float positions to whole pixels (the protocol's grid), optionally shifted by +0.5 px
    first (rounding to the nearest pixel)."""
    shift = 0.5 if half_pixel else 0.0
    return np.clip(np.floor(positions + shift), 0, FREE).astype(np.int64)


def render(images: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Draw digits ``images`` ``(N, K, 28, 28)`` at ``pixels`` ``(N, K, T, 2)``: uint8 ``(N, T, 64, 64)``."""
    n, k, seq_len = pixels.shape[:3]
    frames = np.zeros((n, seq_len, CANVAS, CANVAS), np.uint8)
    for i in range(n):
        for j in range(k):
            img = images[i, j]
            for t in range(seq_len):
                r, c = pixels[i, j, t]
                window = frames[i, t, r : r + DIGIT, c : c + DIGIT]
                np.maximum(window, img, out=window)
    return frames


def make_sequences(digits: np.ndarray, n: int, n_digits: int = 2, speed: float | np.ndarray = 1.0,
                   seq_len: int = 20, seed: int | np.random.SeedSequence | np.random.Generator = 0,
                   half_pixel: bool = False, bounce: str = "clamp") -> Sequences:
    """``n`` sequences of ``n_digits`` digits drawn uniformly from ``digits`` (uint8 ``(D, 28, 28)``).

    Deterministic for a given ``seed``; ``half_pixel`` changes nothing but the pixel grid.
    """
    if n_digits < 1:
        raise ValueError(f"n_digits must be >= 1, got {n_digits}")
    if np.any(np.asarray(speed) <= 0):
        raise ValueError(f"speed must be positive, got {speed}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    which = rng.integers(0, len(digits), size=(n, n_digits))
    positions = paths(rng, n, n_digits, seq_len, speed, bounce)
    pixels = to_pixels(positions, half_pixel)
    frames = render(np.asarray(digits)[which], pixels)
    return Sequences(frames=frames, positions=positions, pixels=pixels, which=which)
