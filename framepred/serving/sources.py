"""The sequences a request can ask for: the held-out test set, the generator, an upload, a drawing.

Each ``*_sequence`` function returns a :class:`Sequence`: float32 frames ``(T, 64, 64)`` in [0, 1], a
label for the report, notes for the user (e.g. "inverted"), the generator settings when known (to
check them against the range a model was trained on) and, for the sources a URL can name, the query
that reopens it (a deep link).

A request does not build its sequence itself: it hands a :data:`Source` (``test``, ``generated``,
``drawn``, ``uploaded``) to :func:`framepred.serving.pipeline.predict`, which checks the horizon
first and then asks the source for as many frames as that horizon needs. Each value is checked once,
where it is used: the horizon by the pipeline, a source's own values by the source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import data, sketch, uploads
from . import validate

CONTEXT = data.CONTEXT


@dataclass(frozen=True)
class Sequence:
    frames: np.ndarray  # (T, 64, 64) float32 in [0, 1]
    label: str  # e.g. "test sequence 3"
    notes: tuple[str, ...] = ()  # shown to the user with the result
    speeds: tuple[float, ...] | None = None  # generator settings, when the app made the sequence
    n_digits: int | None = None
    link: dict | None = None  # the URL query that reopens this source (test set, generator), else None


Source = Callable[[int], Sequence]  # frames wanted (context + horizon) -> the sequence


def test(index) -> Source:
    """A test-set sequence (its 20 frames whatever the horizon: beyond them there is no ground truth)."""
    return lambda length: test_sequence(index)


def generated(seed, n_digits, speed) -> Source:
    return lambda length: generated_sequence(seed, n_digits, speed, length)


def uploaded(file) -> Source:
    """An upload: every frame up to the longest horizon is read (the report says how many)."""
    return lambda length: uploaded_sequence(file, CONTEXT + validate.MAX_HORIZON)


def drawn(image, angle, speed, second_digit: bool = False) -> Source:
    """A drawing. Alone it always starts at the same place (seed 0); with ``second_digit`` every
    request draws a fresh seed, so the held-out digit really is a random one each time."""
    seed = None if second_digit else 0
    return lambda length: drawn_sequence(image, angle, speed, length, second_digit, seed)


def fresh_seed() -> int:
    return int(np.random.default_rng().integers(0, validate.MAX_SEED + 1))


# -- test set --------------------------------------------------------------------------------------
def _test_file_array():
    """FRAMEPRED_TEST_FILE memory-mapped as (N, T, 64, 64), or None for the built-in test set."""
    path = os.environ.get("FRAMEPRED_TEST_FILE", "").strip()
    if not path:
        return None
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"FRAMEPRED_TEST_FILE={path} cannot be read: {e}") from None
    if arr.ndim != 4 or arr.shape[2:] != (data.CANVAS, data.CANVAS):
        raise ValueError(f"FRAMEPRED_TEST_FILE={path}: expected (20, N, 64, 64) sequences, got {arr.shape}.")
    if arr.shape[0] == data.SEQ_LEN and arr.shape[1] != data.SEQ_LEN:  # standard (T, N, H, W) layout
        arr = arr.swapaxes(0, 1)
    if arr.shape[1] <= CONTEXT:
        raise ValueError(f"FRAMEPRED_TEST_FILE={path}: sequences need more than {CONTEXT} frames.")
    return arr


def test_set_size() -> int:
    try:
        arr = _test_file_array()
    except ValueError:
        return data.TEST_SET_SIZE
    return data.TEST_SET_SIZE if arr is None else len(arr)


def test_source_label() -> str:
    path = os.environ.get("FRAMEPRED_TEST_FILE", "").strip()
    return f"sequences from {Path(path).name}" if path else "fixed held-out test set (digits never seen in training)"


def test_sequence(index) -> Sequence:
    arr = _test_file_array()
    n = data.TEST_SET_SIZE if arr is None else len(arr)
    i = validate.whole(index, "Test sequence index", 0, n - 1)
    seq = data.test_set()[i] if arr is None else np.asarray(arr[i])
    try:
        frames = data.to_unit_float(np.ascontiguousarray(seq))
    except ValueError as e:
        raise ValueError(f"Test sequence {i} is unusable: {e}") from None
    link = {"source": "test", "index": i}
    if arr is None:  # the built-in set follows the standard protocol
        return Sequence(frames, f"test sequence {i}", speeds=(1.0, 1.0), n_digits=2, link=link)
    return Sequence(frames, f"test sequence {i}", link=link)


# -- generator ---------------------------------------------------------------------------------------
def generated_sequence(seed, n_digits, speed, length: int) -> Sequence:
    """A fresh MovingMNIST sequence from the held-out digits (same seed, same sequence)."""
    seed = validate.whole(seed, "Seed", 0, validate.MAX_SEED)
    n_digits = validate.whole(n_digits, "Number of digits", validate.N_DIGITS_MIN, validate.N_DIGITS_MAX)
    speed = validate.speed(speed)
    rng = np.random.default_rng(seed)
    frames = data.generate(data.load_digits("test"), rng, 1, length, n_digits, speed)[0]
    label = f"generated: seed {seed}, {n_digits} digit(s), speed {speed:g}"
    link = {"source": "generate", "seed": seed, "digits": n_digits, "speed": speed}
    return Sequence(frames, label, speeds=(speed,) * n_digits, n_digits=n_digits, link=link)


# -- upload --------------------------------------------------------------------------------------------
def uploaded_sequence(file, max_frames: int) -> Sequence:
    """An uploaded .npy / GIF / MP4 / WebM (see framepred.uploads for the limits); dark-on-light is inverted."""
    path = file if isinstance(file, (str, os.PathLike)) else getattr(file, "name", None)
    if path is None:
        raise ValueError("Upload a .npy, .gif, .mp4 or .webm file first.")
    frames = uploads.load_upload(path, max_used_frames=max_frames)
    frames, inverted = uploads.normalise_polarity(frames)
    notes = ("The upload has a light background: it was inverted (light digits on black, as the model "
             "was trained), and the metrics refer to the inverted frames.",) if inverted else ()
    return Sequence(frames, f"upload: {len(frames)} frames used" + (", inverted" if inverted else ""), notes)


# -- drawing ---------------------------------------------------------------------------------------------
def read_image(image) -> np.ndarray:
    """A drawing as an array: a numpy image, a file path (PNG, ...), or a sketchpad value
    (``{"composite": ...}``)."""
    if isinstance(image, dict):  # gr.Sketchpad / gr.ImageEditor value
        image = image.get("composite")
    if image is None:
        raise ValueError("The drawing is empty: draw a digit first.")
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image, UnidentifiedImageError

        path = Path(image)
        if not path.is_file() or path.stat().st_size == 0:
            raise ValueError("The drawing is empty or could not be found: draw or upload a digit first.")
        if path.stat().st_size > uploads.MAX_FILE_BYTES:
            raise ValueError(f"The drawing file is larger than {uploads.MAX_FILE_BYTES // 2**20} MiB.")
        too_large = False
        try:
            with Image.open(path) as im:
                too_large = max(im.size) > sketch.MAX_SIDE  # checked from the header, before decoding
                if not too_large:
                    return np.asarray(im.convert("RGBA"))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            # (Pillow refuses oversized text/profile chunks with a ValueError of its own.)
            raise ValueError(f"The drawing could not be read as an image ({type(e).__name__}).") from None
        raise ValueError(f"The drawing is larger than {sketch.MAX_SIDE} pixels a side.")
    if not isinstance(image, np.ndarray):
        raise ValueError("The drawing could not be read as an image.")
    return image


def read_canvas(image) -> np.ndarray | None:
    """The background a sketchpad value (``{"background": ...}``) was drawn on: the canvas's own,
    expected, whatever its colour (see framepred.sketch.ink_image); None for a plain image."""
    background = image.get("background") if isinstance(image, dict) else None
    return None if background is None else read_image(background)


def drawn_sequence(image, angle, speed, length: int, second_digit: bool = False,
                   seed: int | None = 0) -> Sequence:
    """A sequence of the drawn digit bouncing in direction ``angle`` (degrees) at ``speed``; with
    ``second_digit`` a random held-out MNIST digit (random direction, same speed) joins it.
    ``seed`` fixes the start positions and that digit; ``None`` draws a fresh one. With a second digit
    the label names the seed (it reproduces the sequence)."""
    angle, speed = validate.angle(angle), validate.speed(speed)
    seed = fresh_seed() if seed is None else validate.whole(seed, "Seed", 0, validate.MAX_SEED)
    digit, inverted = sketch.sketch_to_digit(read_image(image), read_canvas(image))
    rng = np.random.default_rng(seed)
    digits, angles = [digit], [angle]
    if second_digit:
        heldout = data.load_digits("test")
        digits.append(heldout[rng.integers(len(heldout))])
        angles.append(np.nan)
    frames = data.bouncing_sequence(np.stack(digits), rng, length, speed, np.array(angles))
    inverted_note = "The drawing has a light background: it was inverted (light strokes on black, as MNIST)."
    notes = (inverted_note,) if inverted else ()
    label = (f"drawn digit, direction {angle:g}°, speed {speed:g}" + (", + 1 held-out digit" if second_digit else "")
             + (f" (seed {seed})" if second_digit else ""))
    return Sequence(frames, label, notes, speeds=(speed,) * len(digits), n_digits=len(digits))
