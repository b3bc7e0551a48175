"""MovingMNIST: real MNIST digits, the Srivastava et al. (2015) generator and loaders (numpy only;
the torch datasets for training are :mod:`framepred.datasets`).

Arrays of sequences are ``(N, T, H, W)``; a single sequence is ``(T, H, W)``. Generated and loaded
frames are float32 in [0, 1] unless stated otherwise (the fixed test set is kept as uint8 to save
memory: 1000 x 20 x 64 x 64 bytes = 82 MB).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

CANVAS = 64
DIGIT = 28
STEP_LENGTH = 0.1  # fraction of the free range (CANVAS - DIGIT) moved per frame (Srivastava et al.)
SEQ_LEN = 20
CONTEXT = 10

TRAIN_PER_CLASS = 400  # first 400 digits of each class in the 5000 are training digits ...
HELDOUT_PER_CLASS = 100  # ... and the last 100 are held out for the test set.

TEST_SET_SEED = 20151  # documented seed of the fixed held-out test set
TEST_SET_SIZE = 1000
TEST_SET_SHA256 = "87d6c3b6ae133f14fcc46638cdf4305359d011606ffe6b9439269d15071c7328"


# --------------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------------
DIGITS_FILE = Path(__file__).resolve().parent / "assets" / "mnist_5k.npz"  # shipped with the package


@lru_cache(maxsize=1)
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5000 shipped MNIST digits: uint8 images ``(5000, 28, 28)`` and labels ``(5000,)``.

    500 per class, sorted by class (see ``framepred/assets/README.md`` for source and licence).
    """
    with np.load(DIGITS_FILE, allow_pickle=False) as f:
        images = np.ascontiguousarray(f["images"], dtype=np.uint8)
        labels = np.ascontiguousarray(f["labels"], dtype=np.uint8)
    if images.shape != (5000, DIGIT, DIGIT) or labels.shape != (5000,):
        raise ValueError(f"{DIGITS_FILE} holds images {images.shape} and labels {labels.shape}")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices of the ``"train"`` (first 400 per class) or ``"test"`` (last 100 per class) digits."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out.append(idx[:TRAIN_PER_CLASS] if split == "train" else idx[-HELDOUT_PER_CLASS:])
    return np.concatenate(out)


def load_digits(split: str = "train", mnist_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Real MNIST digits as uint8 ``(N, 28, 28)``.

    By default the 5000 MNIST digits shipped with the package: ``split="train"`` gives 4000,
    ``"test"`` 1000 held-out ones. With ``mnist_dir`` (standard IDX files), ``"train"`` reads the
    MNIST training images and ``"test"`` the t10k images.
    """
    if mnist_dir is not None:
        return load_idx_digits(mnist_dir, split)
    images, labels = _mnist_5k()
    return images[split_indices(labels, split)]


def load_idx_digits(mnist_dir: str | os.PathLike, split: str = "train") -> np.ndarray:
    """Read ``train-images-idx3-ubyte[.gz]`` / ``t10k-images-idx3-ubyte[.gz]`` from a directory."""
    stem = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}[split]
    for name in (stem, stem + ".gz"):
        path = Path(mnist_dir) / name
        if path.is_file():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            magic, n, rows, cols = struct.unpack(">IIII", data[:16])
            if magic != 2051 or (rows, cols) != (DIGIT, DIGIT):
                raise ValueError(f"{path} is not an MNIST IDX image file")
            return np.frombuffer(data, np.uint8, n * rows * cols, 16).reshape(n, rows, cols)
    raise FileNotFoundError(f"no {stem}[.gz] in {mnist_dir}")


# --------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------
def trajectories(
    rng: np.random.Generator,
    n: int,
    seq_len: int,
    speed: float | np.ndarray = 1.0,
    canvas: int = CANVAS,
    phase: float | np.ndarray = 0.0,
    theta: np.ndarray | None = None,
) -> np.ndarray:
    """Top-left digit positions ``(n, seq_len, 2)`` as int (y, x), bouncing off the walls.

    Start uniform in [0, 1]^2, direction uniform in [0, 2pi), step ``0.1 * speed`` of the free range
    per frame (``speed`` a float or one per trajectory, ``(n,)``); a coordinate leaving [0, 1] is
    clamped and its velocity component negated. Pixels are ``floor(36 * position + phase)``:
    ``phase`` 0 truncates as Srivastava et al. did, 0.5 rounds; a float or ``(n, 2)`` in [0, 1).
    ``theta`` ``(n,)`` fixes directions in radians (NaN: random); the random ones are drawn either
    way, so the stream stays the same.
    """
    pos = rng.random((n, 2))  # (n, 2) as (y, x) in [0, 1]
    drawn = rng.random(n) * 2 * np.pi
    theta = drawn if theta is None else np.where(np.isnan(theta), drawn, theta)
    step = STEP_LENGTH * np.reshape(np.asarray(speed, np.float64), (-1, 1))  # (n, 1) or (1, 1)
    vel = np.stack([np.sin(theta), np.cos(theta)], axis=1) * step  # (n, 2)
    out = np.empty((n, seq_len, 2))
    for t in range(seq_len):
        out[:, t] = pos
        pos = pos + vel
        low, high = pos <= 0.0, pos >= 1.0
        vel = np.where(low | high, -vel, vel)
        pos = np.clip(pos, 0.0, 1.0)
    free = canvas - DIGIT
    if np.all(np.asarray(phase) == 0):
        return (out * free).astype(np.int64)  # (n, seq_len, 2); the original truncation, bit for bit
    shift = np.reshape(np.asarray(phase, np.float64), (-1, 1, 2) if np.ndim(phase) else (1, 1, 1))
    return np.clip(np.floor(out * free + shift), 0, free).astype(np.int64)  # (n, seq_len, 2)


def generate(
    digits: np.ndarray,
    rng: np.random.Generator,
    n_sequences: int,
    seq_len: int = SEQ_LEN,
    n_digits: int | np.ndarray = 2,
    speed: float | np.ndarray = 1.0,
    dtype: type = np.float32,
    phase: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Generate MovingMNIST sequences ``(n_sequences, seq_len, 64, 64)``.

    ``digits`` is uint8 ``(D, 28, 28)``; each sequence draws ``n_digits`` of them uniformly.
    Overlapping digits combine with ``max``. float output is in [0, 1]; ``dtype=np.uint8`` keeps
    0..255. Deterministic for a given generator state.

    Mixed settings (the training stream): ``n_digits`` may be one count per sequence ``(N,)`` (the
    sequence then has ``max(n_digits)`` digit slots, the unused ones left empty), ``speed`` one per
    digit ``(N, K)``, and ``phase`` (see :func:`trajectories`) one per sequence ``(N, 2)``.
    """
    counts = np.asarray(n_digits)
    if counts.size == 0 or counts.min() < 1 or counts.max() > 3:
        raise ValueError(f"n_digits must be 1, 2 or 3, got {n_digits}")
    if seq_len < 1 or n_sequences < 0:
        raise ValueError("seq_len must be >= 1 and n_sequences >= 0")
    speeds = np.asarray(speed, np.float64)
    if not (np.all(speeds > 0.0) and np.all(speeds <= 5.0)):
        raise ValueError(f"speed must be in (0, 5], got {speed}")
    phases = np.asarray(phase, np.float64)
    if not (np.all(phases >= 0.0) and np.all(phases < 1.0)):
        raise ValueError(f"phase must be in [0, 1), got {phase}")
    n, k = n_sequences, int(counts.max())
    if speeds.ndim == 2:
        speeds = speeds[:, :k]  # one speed per digit slot in use
    speed_arg = speeds if speeds.ndim == 0 else np.broadcast_to(speeds, (n, k)).reshape(-1)  # (N*K,)
    phase_arg = phases if phases.ndim == 0 else np.repeat(np.broadcast_to(phases, (n, 2)), k, axis=0)
    pos = trajectories(rng, n * k, seq_len, speed_arg, phase=phase_arg).reshape(n, k, seq_len, 2)  # (N, K, T, 2)
    which = rng.integers(0, len(digits), size=(n, k))  # (N, K)
    canvas = np.zeros((n, seq_len, CANVAS, CANVAS), np.uint8)  # (N, T, H, W)
    ar = np.arange(DIGIT)
    seq_idx = np.arange(n)[:, None, None, None]  # (N, 1, 1, 1)
    t_idx = np.arange(seq_len)[None, :, None, None]  # (1, T, 1, 1)
    for j in range(k):
        rows = (pos[:, j, :, 0, None] + ar)[..., :, None]  # (N, T, 28, 1)
        cols = (pos[:, j, :, 1, None] + ar)[..., None, :]  # (N, T, 1, 28)
        patch = digits[which[:, j]][:, None]  # (N, 1, 28, 28)
        if counts.ndim:  # sequences with fewer digits leave slot j empty
            patch = patch * (j < counts).reshape(n, 1, 1, 1).astype(np.uint8)
        # One digit never overlaps itself within a frame, so gather-max-scatter is exact.
        canvas[seq_idx, t_idx, rows, cols] = np.maximum(canvas[seq_idx, t_idx, rows, cols], patch)
    if dtype == np.uint8:
        return canvas
    return canvas.astype(dtype) / dtype(255)


def bouncing_sequence(
    digits: np.ndarray,
    rng: np.random.Generator,
    seq_len: int = SEQ_LEN,
    speeds: float | np.ndarray = 1.0,
    angles_deg: np.ndarray | None = None,
) -> np.ndarray:
    """One sequence ``(seq_len, 64, 64)`` float32 in [0, 1] of the given digits ``(K, 28, 28)`` uint8.

    The Srivastava protocol like :func:`generate`, but the caller chooses the digits (e.g. one drawn
    by hand) and may fix each one's direction: ``angles_deg`` ``(K,)``, degrees counter-clockwise
    from "right" (screen y points down), NaN for a random direction.
    """
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (DIGIT, DIGIT) or not 1 <= len(digits) <= 3:
        raise ValueError(f"digits must be (K, 28, 28) with K in 1..3, got {digits.shape}")
    k = len(digits)
    speeds = np.broadcast_to(np.asarray(speeds, np.float64), (k,))
    if not (np.all(speeds > 0.0) and np.all(speeds <= 5.0)):
        raise ValueError(f"speed must be in (0, 5], got {speeds}")
    theta = None
    if angles_deg is not None:  # y points down: counter-clockwise on screen is -theta
        theta = -np.radians(np.broadcast_to(np.asarray(angles_deg, np.float64), (k,)))
    pos = trajectories(rng, k, seq_len, speeds, theta=theta)  # (K, T, 2) int (y, x)
    canvas = np.zeros((seq_len, CANVAS, CANVAS), np.uint8)  # (T, H, W)
    for t in range(seq_len):
        for j in range(k):
            y, x = pos[j, t]
            np.maximum(canvas[t, y : y + DIGIT, x : x + DIGIT], digits[j], out=canvas[t, y : y + DIGIT, x : x + DIGIT])
    return canvas.astype(np.float32) / np.float32(255)


# The range of settings the demo offers, which the training stream covers.
SPEED_RANGE = (0.25, 3.0)
DIGITS_RANGE = (1, 3)


MIXED_STANDARD_FRACTION = 0.25  # the mixed stream's share at the standard protocol


def draw_settings(rng: np.random.Generator, n: int, standard_fraction: float = MIXED_STANDARD_FRACTION,
                  speed_range: tuple[float, float] = SPEED_RANGE,
                  digits_range: tuple[int, int] = DIGITS_RANGE) -> dict:
    """Random generator settings for ``n`` sequences, covering everything the demo accepts.

    A ``standard_fraction`` of the sequences follow the standard protocol (2 digits, speed 1,
    truncated pixel grid); the rest draw 1-3 digits uniformly, a speed per digit log-uniform over
    ``speed_range`` and a sub-pixel phase per axis uniform in [0, 1) (so no pixel grid is special).
    Returns ``generate`` keyword arguments: ``n_digits (n,)``, ``speed (n, 3)``, ``phase (n, 2)``.
    """
    lo, hi = np.log(speed_range[0]), np.log(speed_range[1])
    standard = rng.random(n) < standard_fraction  # (n,)
    counts = rng.integers(digits_range[0], digits_range[1] + 1, size=n)
    speed = np.exp(rng.uniform(lo, hi, size=(n, digits_range[1])))  # (n, K)
    phase = rng.random((n, 2))
    counts[standard], speed[standard], phase[standard] = 2, 1.0, 0.0
    return {"n_digits": counts, "speed": speed, "phase": phase}


# The bar's stream: weighted like the acceptance checks (train/evaluate.py --grid), which score the
# standard protocol (with and without a half-pixel shift) and every speed x digit-count cell with all
# digits at one speed, as the demo's Generate tab makes them.
BAR_STANDARD_FRACTION = 0.4  # 2 digits, speed 1: the standard and half-pixel checks
BAR_SAME_SPEED_FRACTION = 0.35  # 1-3 digits, all at one speed: the grid's cells, the Generate tab
SAME_SPEED_RANGE = (0.5, 3.0)  # the grid's speeds (0.5 ... 3)
# A model that sees the standard and same-speed motions only on the truncated grid learns where
# that grid puts the walls: the same paths half a pixel over (rounded) score ~20 % worse. A
# ``shifted_fraction`` of those sequences gets a uniform sub-pixel phase instead; 0.5 closed the gap
# in a measured branch (docs/training.md, "The pixel grid") and later runs pass it explicitly.
BAR_SHIFTED_FRACTION = 0.0  # the default keeps the stream of the runs before it, draw for draw


def draw_bar_settings(rng: np.random.Generator, n: int, standard_fraction: float = BAR_STANDARD_FRACTION,
                      same_speed_fraction: float = BAR_SAME_SPEED_FRACTION,
                      same_speed_range: tuple[float, float] = SAME_SPEED_RANGE,
                      speed_range: tuple[float, float] = SPEED_RANGE,
                      digits_range: tuple[int, int] = DIGITS_RANGE,
                      shifted_fraction: float = BAR_SHIFTED_FRACTION) -> dict:
    """Generator settings for ``n`` sequences of the bar's stream (``train.py --data bar``).

    A ``standard_fraction`` at the standard protocol (2 digits, speed 1, truncated grid); a
    ``same_speed_fraction`` with 1-3 digits (uniform) all at one speed, log-uniform over
    ``same_speed_range``, on the truncated grid as the Generate tab draws them; the rest as
    :func:`draw_settings`' mixed sequences (a speed per digit, sub-pixel phases), which keep drawn
    digits and shifted grids covered. A ``shifted_fraction`` of the standard and same-speed sequences
    keeps its uniform sub-pixel phase (the same motions on a shifted grid; with 0 nothing more is drawn,
    so the stream is the one without the argument). Returns ``generate`` keyword arguments like
    :func:`draw_settings`.
    """
    if not (0.0 <= standard_fraction and 0.0 <= same_speed_fraction and standard_fraction + same_speed_fraction <= 1.0):
        raise ValueError(f"fractions must be >= 0 and sum to <= 1, got {standard_fraction}, {same_speed_fraction}")
    if not 0.0 <= shifted_fraction <= 1.0:
        raise ValueError(f"shifted_fraction must be in [0, 1], got {shifted_fraction}")
    kind = rng.random(n)  # (n,): standard below standard_fraction, same speed up to the sum
    standard = kind < standard_fraction
    same = ~standard & (kind < standard_fraction + same_speed_fraction)
    settings = draw_settings(rng, n, 0.0, speed_range, digits_range)
    lo, hi = np.log(same_speed_range[0]), np.log(same_speed_range[1])
    one_speed = np.exp(rng.uniform(lo, hi, size=n))  # (n,)
    truncated = rng.random(n) >= shifted_fraction if shifted_fraction > 0 else np.ones(n, bool)  # (n,)
    settings["speed"][same] = one_speed[same, None]
    settings["n_digits"][standard], settings["speed"][standard] = 2, 1.0
    settings["phase"][(same | standard) & truncated] = 0.0
    return settings


def stream_record(mixed: bool, standard_fraction: float = MIXED_STANDARD_FRACTION,
                  same_speed_fraction: float = 0.0, shifted_fraction: float = 0.0,
                  same_speed_range: tuple[float, float] = SAME_SPEED_RANGE) -> dict:
    """What a training stream covered, for ``training.json`` (the app and the model card read it):
    the mixed stream, the bar's (``same_speed_fraction`` > 0) or the standard protocol only."""
    if not mixed:
        return {"mixed": False, "speed_range": [1.0, 1.0], "digits_range": [2, 2]}
    out = {"mixed": True, "standard_fraction": standard_fraction, "speed_range": list(SPEED_RANGE),
           "digits_range": list(DIGITS_RANGE)}
    if same_speed_fraction > 0:
        out.update(mix="bar", same_speed_fraction=same_speed_fraction, same_speed_range=list(same_speed_range))
        if shifted_fraction > 0:
            out["shifted_fraction"] = shifted_fraction
    return out


def test_set(size: int = TEST_SET_SIZE) -> np.ndarray:
    """The fixed held-out test set: uint8 ``(size, 20, 64, 64)``, 2 digits, held-out digits only.

    Generated from ``TEST_SET_SEED``; the full 1000 sequences hash to ``TEST_SET_SHA256``. A smaller
    ``size`` gives the first sequences of the same set.
    """
    full = _test_set()
    return full[:size]


@lru_cache(maxsize=1)
def _test_set() -> np.ndarray:
    rng = np.random.default_rng(TEST_SET_SEED)
    arr = generate(load_digits("test"), rng, TEST_SET_SIZE, SEQ_LEN, 2, dtype=np.uint8)
    arr.setflags(write=False)
    return arr


VALIDATION_SEED = 20160  # the validation set's own seed (never the test set's sequences)
VALIDATION_SIZE = 240


def validation_set(size: int = VALIDATION_SIZE, seed: int = VALIDATION_SEED) -> np.ndarray:
    """A seeded validation set, uint8 ``(size, 20, 64, 64)``, for choosing checkpoints.

    Held-out digits like the test set, but its own random stream and settings: the first
    ``size // 3`` sequences follow the standard protocol (2 digits, speed 1), the rest draw
    :func:`draw_settings` over the demo's whole range (1-3 digits, speeds, sub-pixel phases).
    """
    rng = np.random.default_rng(seed)
    digits = load_digits("test")
    n_std = size // 3
    standard = generate(digits, rng, n_std, SEQ_LEN, 2, dtype=np.uint8)
    settings = draw_settings(rng, size - n_std, standard_fraction=0.0)
    mixed = generate(digits, rng, size - n_std, SEQ_LEN, dtype=np.uint8, **settings)
    return np.concatenate([standard, mixed])


def validation_shifted(size: int = VALIDATION_SIZE, seed: int = VALIDATION_SEED, phase: float = 0.5) -> np.ndarray:
    """:func:`validation_set`'s standard third on a grid shifted by ``phase`` px (0.5: rounded, as the
    bar's half-pixel check), uint8 ``(size // 3, 20, 64, 64)``: the same digits and paths, each digit
    at most a pixel away per axis, so its MSE against the standard third's measures the grid alone."""
    rng = np.random.default_rng(seed)  # validation_set draws its standard third first from this state
    return generate(load_digits("test"), rng, size // 3, SEQ_LEN, 2, dtype=np.uint8, phase=phase)


REACH_SEED = 20163  # the reach test's own seed


def reach_set(size: int = 96, speed: float = 3.0, seed: int = REACH_SEED, n_digits: int = 2) -> np.ndarray:
    """Fast-motion sequences for the reach test, uint8 ``(size, 20, 64, 64)``: ``n_digits`` held-out
    digits at ``speed``, sub-pixel phases; its own seed (neither the test set's nor the validation set's)."""
    rng = np.random.default_rng(seed)
    return generate(load_digits("test"), rng, size, SEQ_LEN, n_digits, speed=speed, dtype=np.uint8,
                    phase=rng.random((size, 2)))


def sha256(array: np.ndarray) -> str:
    """Hex SHA-256 of an array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Loading sequences from files
# --------------------------------------------------------------------------------------------------
def to_unit_float(array: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 /255; float arrays must already lie in [0, 1]."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("array contains NaN or infinite values")
        if array.size and (array.min() < 0.0 or array.max() > 1.0):
            raise ValueError("float frames must lie in [0, 1]")
        return array.astype(np.float32)
    raise ValueError(f"frames must be uint8 (0..255) or float in [0, 1], got dtype {array.dtype}")


def check_unit_floats(arr: np.ndarray, chunk_bytes: int = 64 * 2**20) -> None:
    """Float frames must be finite and in [0, 1] (:func:`to_unit_float`'s rule), checked before any
    model runs; read in chunks along the first axis, so a large memory-mapped file is never held at once."""
    step = max(1, chunk_bytes // max(1, arr[:1].nbytes))
    lo, hi = np.inf, -np.inf
    for i in range(0, len(arr), step):
        part = np.asarray(arr[i : i + step])
        if not np.isfinite(part).all():
            raise ValueError("the sequences contain NaN or infinite values")
        lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"float frames must lie in [0, 1], but values range from {lo:g} to {hi:g} "
                         "(save 0..255 grey levels as uint8)")


def auto_layout(shape: tuple[int, ...]) -> str:
    """The axes of an array of sequences, by the ``layout="auto"`` rule: ``(20, N, ...)`` with N != 20
    is MovingMNIST's standard ``"TNHW"`` (``mnist_test_seq.npy``), anything else ``"NTHW"``."""
    return "TNHW" if shape[0] == SEQ_LEN and shape[1] != SEQ_LEN else "NTHW"


def load_sequences(source: str | os.PathLike | np.ndarray, layout: str = "auto") -> np.ndarray:
    """Load MovingMNIST sequences as float32 ``(N, T, 64, 64)`` in [0, 1].

    Accepts the standard ``mnist_test_seq.npy`` layout ``(T, N, 64, 64)`` (``layout="TNHW"``) or
    ``(N, T, 64, 64)`` (``"NTHW"``). ``"auto"`` takes ``(20, N, ...)`` with N != 20 as the standard
    layout and everything else as ``(N, T, ...)``. Pickled (object) files are never loaded.
    """
    if isinstance(source, np.ndarray):
        arr = source
    else:
        try:
            arr = np.load(source, allow_pickle=False, mmap_mode="r")
        except ValueError as e:  # object arrays need pickle: refuse
            raise ValueError(f"{source}: not a plain numeric .npy file ({e})") from None
    if arr.ndim != 4 or arr.shape[2:] != (CANVAS, CANVAS):
        raise ValueError(
            f"expected sequences of shape (T, N, 64, 64) or (N, T, 64, 64), got {tuple(arr.shape)}"
        )
    if layout == "auto":
        layout = auto_layout(arr.shape)
    if layout == "TNHW":
        arr = np.swapaxes(arr, 0, 1)  # (T, N, H, W) -> (N, T, H, W)
    elif layout != "NTHW":
        raise ValueError(f"layout must be 'auto', 'TNHW' or 'NTHW', got {layout!r}")
    return np.ascontiguousarray(to_unit_float(np.asarray(arr)))
