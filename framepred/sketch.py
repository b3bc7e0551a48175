"""A hand-drawn digit -> a MNIST-like 28 x 28 digit, the way MNIST's digits were made.

MNIST (LeCun et al.): each digit was size-normalised to fit a 20 x 20 box, aspect ratio kept
(anti-aliased), then placed in a 28 x 28 field so that its centre of mass lies at the centre.
Strokes drawn on a large canvas are also thickened first, so that after shrinking they are about as
wide as MNIST's pen (a thin line would vanish into grey). Either polarity is accepted: dark strokes
on a light canvas are inverted by the same rule as uploads (:func:`framepred.uploads.normalise_polarity`).
A drawing whose canvas is known (a sketchpad's value: strokes over the canvas's own background) needs
no guess: its ink is what differs from that background, whatever colour the canvas is.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from .data import DIGIT
from .uploads import normalise_polarity

BOX = 20  # the digit's longer side after size normalisation (MNIST)
INK = 0.2  # a pixel with at least this much ink (of the image's maximum) belongs to a stroke
PEN = 0.12  # MNIST's stroke width as a fraction of the 20-pixel box (about 2.5 px)
MAX_SIDE = 2048  # larger drawings are refused (a sketchpad gives a few hundred pixels)
WORK_SIDE = 256  # larger drawings are shrunk to this before cropping and thickening


def _pixels(image, what: str = "drawing") -> np.ndarray:
    """A grey, RGB or RGBA image ``(H, W[, C])``, uint8 or float in [0, 1], checked -> float32 in [0, 1]."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(f"A {what} must be a grey, RGB or RGBA image, got an array of shape {arr.shape}.")
    if min(arr.shape[:2]) < 8 or max(arr.shape[:2]) > MAX_SIDE:
        raise ValueError(f"A {what} must be 8 to {MAX_SIDE} pixels a side, got {arr.shape[1]} x {arr.shape[0]}.")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255
    if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all():
        return np.clip(arr.astype(np.float32), 0, 1)
    raise ValueError(f"A {what} must be uint8 or float pixels, got {arr.dtype}.")


def _grey(values: np.ndarray) -> np.ndarray:
    """Checked pixels (:func:`_pixels`) -> grey ``(H, W)``; RGBA composited over white (what a viewer shows)."""
    if values.ndim == 2:
        return values
    c = values.shape[2]
    grey = values[..., 0] if c == 1 else values[..., 0] * 0.299 + values[..., 1] * 0.587 + values[..., 2] * 0.114
    if c == 4:
        grey = grey * values[..., 3] + (1 - values[..., 3])
    return grey


def ink_image(image: np.ndarray, canvas: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """An RGB(A) or grey image ``(H, W[, C])`` (uint8 or float in [0, 1]) -> ink ``(H, W)`` in [0, 1]
    (strokes bright) and whether the image was inverted (dark strokes on a light background).

    ``canvas``: the background the image was drawn on (a sketchpad's own, same size): the ink is how
    far each pixel is from it, in grey, so either colour of canvas is expected and nothing is inverted.
    Without it, a mostly transparent RGBA image (a sketchpad layer) is read by its alpha (where it was
    painted), any other by its grey, inverted where its background is light.
    """
    values = _pixels(image)
    if canvas is not None:
        background = _pixels(canvas, "canvas")
        if background.shape[:2] != values.shape[:2]:
            raise ValueError(f"The drawing ({values.shape[1]} x {values.shape[0]}) and its canvas "
                             f"({background.shape[1]} x {background.shape[0]}) differ in size.")
        return np.abs(_grey(values) - _grey(background)).astype(np.float32), False
    if values.ndim == 3 and values.shape[2] == 4 and np.mean(values[..., 3] < 0.5) > 0.5:
        return values[..., 3], False  # painted strokes on a transparent canvas
    return normalise_polarity(_grey(values).astype(np.float32))


def sketch_to_digit(image: np.ndarray, canvas: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """A drawing ``(H, W[, C])`` -> (uint8 ``(28, 28)`` MNIST-like digit, inverted?); ``canvas``: the
    background it was drawn on, if known (see :func:`ink_image`).

    Raises ``ValueError`` with a readable message for an empty drawing.
    """
    ink, inverted = ink_image(image, canvas)
    if max(ink.shape) > WORK_SIDE:  # a big canvas: shrink first (thickening a 2048-px crop costs seconds)
        f = WORK_SIDE / max(ink.shape)
        size = (max(8, round(ink.shape[1] * f)), max(8, round(ink.shape[0] * f)))
        ink = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BOX))
    peak = float(ink.max()) if ink.size else 0.0
    mask = ink >= INK * peak
    if peak < 0.1 or mask.sum() < 4:
        raise ValueError("The drawing is empty: draw a digit first (light strokes on dark, or dark on light).")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] / peak  # (h, w), strokes up to 1
    crop = _thicken(crop, mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL: (width, height)
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS))
    small = np.clip(small, 0, 1)
    digit = np.zeros((DIGIT, DIGIT), np.float32)
    top, left = (DIGIT - size[1]) // 2, (DIGIT - size[0]) // 2
    digit[top : top + size[1], left : left + size[0]] = small
    # Centre of mass to the centre (MNIST), by whole pixels, never pushing ink out of the field.
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    dy = int(round((DIGIT - 1) / 2 - (ys * digit).sum() / mass))
    dx = int(round((DIGIT - 1) / 2 - (xs * digit).sum() / mass))
    dy = int(np.clip(dy, -top, DIGIT - top - size[1]))
    dx = int(np.clip(dx, -left, DIGIT - left - size[0]))
    digit = np.roll(digit, (dy, dx), axis=(0, 1))
    return (digit * 255).round().astype(np.uint8), inverted


def _thicken(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Widen thin strokes so that after shrinking to BOX they are about MNIST's pen width."""
    area = mask.sum()
    # Boundary pixels (ink with a non-ink 4-neighbour) ~ twice the stroke length, so the mean
    # stroke width is about 2 * area / boundary.
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    boundary = max(int((mask & ~inner).sum()), 1)
    width = 2.0 * area / boundary
    target = PEN * max(crop.shape)
    grow = int(round(target - width))
    if grow < 2:
        return crop
    size = grow + 1 if grow % 2 == 0 else grow  # MaxFilter needs an odd size
    size = min(size, 31)
    img = Image.fromarray(crop.astype(np.float32)).filter(ImageFilter.MaxFilter(size))
    return np.asarray(img, dtype=np.float32)
