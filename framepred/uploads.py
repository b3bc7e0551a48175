"""Turn an uploaded file into frames the model reads: float32 ``(T, 64, 64)`` grey in [0, 1].

Accepted files (recognised by their first bytes, not by their name):

* ``.npy`` (NumPy format 1.0/2.0, read with ``allow_pickle=False``): ``(T, H, W)`` or
  ``(T, H, W, C)`` with ``C`` in 1 (grey), 3 (RGB) or 4 (RGBA).
* animated GIF (GIF87a/GIF89a), any size up to the limits below.
* MP4 (an ISO media file: ``ftyp`` box) or WebM / Matroska (EBML header) video, decoded with PyAV
  (:mod:`framepred.video`); its colour frames become grey as RGB below.

Values:

* ``uint8`` is 0..255 and is divided by 255.
* Other integer types (int8..int64, uint16..uint64) are accepted only if every value lies in 0..255
  (8-bit grey levels stored in a wider type); they are divided by 255.
* Floating point (float16/32/64) must lie in [0, 1]. Values at most ``FLOAT_TOLERANCE`` outside are
  rounding noise and are clipped; anything else is refused (no guessing whether a float array is on
  a 0..255 scale: save such data as ``uint8``). NaN and infinities are refused.
* ``bool``, complex, object, string, structured and date types are refused.
* RGB is turned into grey with the ITU-R 601 weights (as Pillow's ``"L"`` mode); RGBA is first
  composited over black (MovingMNIST is white digits on black, so transparent = background).

Geometry: frames from ``MIN_SIDE`` to ``MAX_SIDE`` pixels a side; non-square ones are padded with
the background (the border's median grey) to a square (centred, aspect ratio kept), then resized to
64 x 64 with area averaging (``BOX``) when shrinking and ``BILINEAR`` when enlarging.

Every limit is checked before the work it guards: the file size before reading, the declared array
shape / GIF canvas / video frame size and frame count (parsed from the headers) before any frame is
decoded, so a file that declares a huge array or canvas is refused without reading its body. Frames are converted one
at a time, so memory stays at one frame however long the upload. Every refusal is a ``ValueError``
whose message says what is wrong and what is accepted.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from .data import CANVAS, CONTEXT

# --------------------------------------------------------------------------------------------------
# Limits (the single place where they are set)
# --------------------------------------------------------------------------------------------------
MAX_FILE_BYTES = 50 * 1024 * 1024  # 50 MiB: checked before the file is read
MIN_FRAMES = CONTEXT + 1  # 10 context frames + at least one to compare with
MAX_FRAMES = 1000  # frames in one upload
MAX_SIDE = 1024  # frame height and width, pixels (GIF: the canvas Pillow would allocate)
MIN_SIDE = 4  # smaller frames hold no picture worth enlarging to 64 x 64
MAX_TOTAL_PIXELS = 64 * 1024 * 1024  # frames x height x width we agree to decode from one GIF
MAX_NPY_HEADER_BYTES = 10_000  # NumPy's own default guard against huge headers
FLOAT_TOLERANCE = 1e-3  # float values this far outside [0, 1] are clipped, farther ones refused
OUTPUT_SIZE = CANVAS  # frames come out 64 x 64

NPY_MAGIC = b"\x93NUMPY"
GIF_MAGICS = (b"GIF87a", b"GIF89a")
MP4_BOX = b"ftyp"  # bytes 4..8 of an ISO media file (MP4, MOV): its first box, the file type
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # the first bytes of WebM / Matroska
ACCEPTED = ("a .npy array (T, H, W) or (T, H, W, C) with C = 1, 3 or 4, an animated .gif, "
            "or an .mp4 / .webm video")
# What a file's name promises, for a clearer refusal when the content is something else.
_NAMED = {".npy": "a NumPy .npy file", ".gif": "a GIF", ".mp4": "an MP4 video", ".webm": "a WebM video"}
_REFUSED_KINDS = {
    "b": "boolean", "c": "complex", "O": "Python object", "V": "structured/void",
    "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta",
}


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------
def load_upload(path: str | os.PathLike, max_used_frames: int | None = None) -> np.ndarray:
    """Read an uploaded ``.npy``, animated GIF, MP4 or WebM as float32 ``(T, 64, 64)`` in [0, 1].

    The whole file is validated; with ``max_used_frames`` only the first frames are converted
    (and returned), which keeps long uploads cheap. Raises ``ValueError`` with a readable message.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError("The uploaded file could not be found on the server; please upload it again.")
    if path.stat().st_size == 0:
        raise ValueError("The uploaded file is empty.")
    _check_file_size(path)
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:6] == NPY_MAGIC:
        return load_npy(path, max_used_frames)
    if head[:6] in GIF_MAGICS:
        return load_gif(path, max_used_frames)
    if video_kind(head) is not None:
        from .video import read_video  # PyAV is imported only when a video comes

        return read_video(path, max_used_frames)
    named = _NAMED.get(path.suffix.lower())
    hint = f"; this file is named {path.suffix} but its content is not {named}" if named else ""
    raise ValueError(f"Unsupported file type: expected {ACCEPTED}{hint}.")


def video_kind(head: bytes) -> str | None:
    """``"mp4"``, ``"webm"`` or None, from a file's first 12 bytes."""
    if head[4:8] == MP4_BOX:
        return "mp4"
    if head[:4] == EBML_MAGIC:
        return "webm"
    return None


def load_npy(path: str | os.PathLike, max_used_frames: int | None = None) -> np.ndarray:
    """A ``.npy`` file -> float32 ``(T, 64, 64)``; the header is checked before the data is read."""
    path = Path(path)
    _check_file_size(path)
    shape, dtype, data_offset = read_npy_header(path)
    check_dtype(dtype)
    check_shape(shape)
    check_npy_length(path, shape, dtype, data_offset)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"This .npy file cannot be read (damaged or not a NumPy array file): {e}.") from None
    return array_to_frames(arr, max_used_frames)


def read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` from a ``.npy`` file's header; nothing else is read."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f, MAX_NPY_HEADER_BYTES)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f, MAX_NPY_HEADER_BYTES)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, SyntaxError, TypeError, EOFError) as e:
            raise ValueError(f"This .npy file cannot be read (damaged or not a NumPy array file): {e}.") from None
        data_offset = f.tell()
    if any(int(n) < 0 for n in shape):  # NumPy's header parser lets negative sizes through
        raise ValueError(f"This .npy file cannot be read (damaged or not a NumPy array file): shape {shape}.")
    return shape, dtype, data_offset


def check_npy_length(path: Path, shape: tuple[int, ...], dtype: np.dtype, data_offset: int) -> None:
    """Refuse a ``.npy`` file shorter than the array its header declares."""
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size - data_offset < expected:
        raise ValueError(f"This .npy file is truncated: its header declares {shape} {dtype}, the data is missing.")


def load_gif(path: str | os.PathLike, max_used_frames: int | None = None) -> np.ndarray:
    """An animated GIF -> float32 ``(T, 64, 64)``; canvas and frame count are checked first."""
    path = Path(path)
    _check_file_size(path)
    with open(path, "rb") as f:
        width, height, n_frames = gif_header_info(f)
    if n_frames < MIN_FRAMES:
        raise ValueError(
            f"The GIF has {n_frames} frame{'s' if n_frames != 1 else ''}; at least {MIN_FRAMES} are needed "
            f"({CONTEXT} context frames + 1 to predict)."
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _too_large("GIF frames", height, width)
    if width < MIN_SIDE or height < MIN_SIDE:
        raise _too_small("GIF frames", height, width)
    n_used = n_frames if max_used_frames is None else min(n_frames, max(int(max_used_frames), MIN_FRAMES))
    if n_used * width * height > MAX_TOTAL_PIXELS:  # only the frames we use are decoded
        raise ValueError(
            f"The GIF is too large to decode ({n_used} frames of {height} x {width}); "
            f"use fewer or smaller frames (at most {MAX_TOTAL_PIXELS:,} pixels in all)."
        )
    frames = np.empty((n_used, OUTPUT_SIZE, OUTPUT_SIZE), np.float32)
    try:
        with Image.open(path, formats=["GIF"]) as im:
            for i in range(n_used):
                im.seek(i)
                if max(im.size) > MAX_SIDE:  # Pillow grows the canvas for frames that stick out
                    raise ValueError(f"frame {i} is larger than {MAX_SIDE} x {MAX_SIDE} pixels")
                rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / np.float32(255)  # (H, W, 4)
                frames[i] = _resize(_grey(rgba))
    except Exception as e:  # Pillow raises many types on broken data (OSError, EOFError, IndexError...)
        raise ValueError(
            f"This GIF cannot be decoded: the file looks damaged or truncated ({type(e).__name__}: {e})."
        ) from None
    return frames


def array_to_frames(arr: np.ndarray, max_used_frames: int | None = None) -> np.ndarray:
    """Validate an array ``(T, H, W)`` / ``(T, H, W, C)`` and convert it to float32 ``(T', 64, 64)``.

    Every value is checked; only the first ``T' = min(T, max_used_frames)`` frames (never fewer
    than ``MIN_FRAMES``) are converted. See the module docstring for dtypes and value ranges.
    """
    check_dtype(arr.dtype)
    check_shape(arr.shape)
    _check_values(arr)
    if max_used_frames is not None:
        arr = arr[: max(int(max_used_frames), MIN_FRAMES)]
    out = np.empty((len(arr), OUTPUT_SIZE, OUTPUT_SIZE), np.float32)
    for i in range(len(arr)):  # one frame at a time: memory stays at one float frame, not T'
        frame = _to_unit(arr[i])  # (H, W[, C]) float32 in [0, 1]
        out[i] = _resize(_grey(frame) if frame.ndim == 3 else frame)
    return out


# --------------------------------------------------------------------------------------------------
# Checks on declared dtype / shape (no data needed)
# --------------------------------------------------------------------------------------------------
def check_dtype(dtype: np.dtype) -> None:
    """Refuse dtypes that are not plain integers or floats."""
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.kind in _REFUSED_KINDS:
        kind = _REFUSED_KINDS.get(dtype.kind, "Python object")
        raise ValueError(
            f"The array has {kind} values (dtype {dtype}); frames must be uint8 0..255, "
            "integers in 0..255 or floats in [0, 1]."
        )
    if dtype.kind not in "uif":
        raise ValueError(f"Unsupported dtype {dtype}: frames must be integers in 0..255 or floats in [0, 1].")


def check_shape(shape: tuple[int, ...]) -> None:
    """Refuse wrong ranks, empty arrays, too few / too many frames and too large frames."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 4 and shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"The array has shape {shape}: a 4-D array must be (T, H, W, C) with C = 1, 3 or 4 channels "
            "(a file of many sequences such as mnist_test_seq.npy is not a single upload; "
            "the app can serve it as its test set via FRAMEPRED_TEST_FILE)."
        )
    if len(shape) not in (3, 4):
        raise ValueError(f"The array has {len(shape)} dimension(s) {shape}; expected {ACCEPTED}.")
    if 0 in shape:
        raise ValueError(f"The array is empty (shape {shape}).")
    t, h, w = shape[:3]
    if t < MIN_FRAMES:
        raise ValueError(
            f"The sequence has {t} frame{'s' if t != 1 else ''}; at least {MIN_FRAMES} are needed "
            f"({CONTEXT} context frames + 1 to predict)."
        )
    if t > MAX_FRAMES:
        raise ValueError(f"The sequence has {t} frames; the limit is {MAX_FRAMES}.")
    if h > MAX_SIDE or w > MAX_SIDE:
        raise _too_large("frames", h, w)
    if h < MIN_SIDE or w < MIN_SIDE:
        raise _too_small("frames", h, w)


def gif_header_info(f) -> tuple[int, int, int]:
    """``(canvas width, canvas height, frame count)`` of a GIF, from its block structure only.

    No pixel is decoded: the image descriptors give each frame's size and position (Pillow enlarges
    the canvas to hold frames that stick out, so the canvas is the union of all of them). Counting
    stops with an error as soon as the count passes ``MAX_FRAMES`` or the canvas passes
    ``MAX_SIDE``. A stray byte where a block should start ends the scan, like a trailer.
    """
    head = f.read(13)
    if len(head) < 13 or head[:6] not in GIF_MAGICS:
        raise ValueError("This GIF cannot be decoded (bad header).")
    width, height, flags = struct.unpack("<HHB", head[6:11])
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _too_large("GIF frames", height, width)
    if flags & 0x80:
        f.seek(3 << ((flags & 7) + 1), os.SEEK_CUR)  # global colour table
    frames = 0
    while True:
        tag = f.read(1)
        if tag == b"!":  # extension: label, then data sub-blocks
            f.read(1)
            _skip_sub_blocks(f)
        elif tag == b",":  # image descriptor
            desc = f.read(9)
            if len(desc) < 9:
                break
            left, top, w, h, fl = struct.unpack("<HHHHB", desc)
            width, height = max(width, left + w), max(height, top + h)
            if width > MAX_SIDE or height > MAX_SIDE:
                raise _too_large("GIF frames", height, width)
            if fl & 0x80:
                f.seek(3 << ((fl & 7) + 1), os.SEEK_CUR)  # local colour table
            f.read(1)  # LZW minimum code size
            _skip_sub_blocks(f)
            frames += 1
            if frames > MAX_FRAMES:
                raise ValueError(f"The GIF has more than {MAX_FRAMES} frames; the limit is {MAX_FRAMES}.")
        else:  # b";" trailer, end of file or an unknown byte
            break
    return width, height, frames


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
LIGHT_BACKGROUND = 0.5  # a median grey level above this means a light background


def normalise_polarity(frames: np.ndarray) -> tuple[np.ndarray, bool]:
    """Light digits on a dark background, as the model was trained: ``(frames, inverted)``.

    MovingMNIST frames are mostly black, so their median is ~0; a clip (or drawing) of dark strokes
    on a light background has a median near 1 and is inverted. ``frames`` float in [0, 1], any shape.
    """
    if frames.size and float(np.median(frames)) > LIGHT_BACKGROUND:
        return (1.0 - frames).astype(np.float32), True
    return frames, False


def _check_file_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"The file is too large ({size / 2**20:.1f} MiB); the limit is {MAX_FILE_BYTES / 2**20:.0f} MiB."
        )


def _too_large(what: str, h: int, w: int) -> ValueError:
    return ValueError(f"The {what} are too large ({h} x {w}); the limit is {MAX_SIDE} x {MAX_SIDE} pixels.")


def _too_small(what: str, h: int, w: int) -> ValueError:
    return ValueError(f"The {what} are too small ({h} x {w}); they need at least {MIN_SIDE} x {MIN_SIDE} pixels.")


def _skip_sub_blocks(f) -> None:
    while True:
        n = f.read(1)
        if not n or n == b"\x00":
            return
        f.seek(n[0], os.SEEK_CUR)


def _check_values(arr: np.ndarray) -> None:
    """Integers must lie in 0..255, floats be finite and in [0, 1] (up to ``FLOAT_TOLERANCE``)."""
    if arr.dtype == np.uint8:
        return
    if arr.dtype.kind in "ui":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"Integer frames must hold grey levels 0..255, but values range from {lo} to {hi}.")
        return
    if not np.isfinite(arr).all():
        raise ValueError("The array contains NaN or infinite values.")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -FLOAT_TOLERANCE or hi > 1 + FLOAT_TOLERANCE:
        raise ValueError(
            f"Float frames must lie in [0, 1], but values range from {lo:g} to {hi:g} "
            "(save 0..255 grey levels as uint8)."
        )


def _to_unit(arr: np.ndarray) -> np.ndarray:
    """Checked integer 0..255 or float [0, 1] values -> float32 in [0, 1]."""
    values = np.asarray(arr, dtype=np.float32)
    if arr.dtype.kind in "ui":
        return values / np.float32(255)
    return np.clip(values, 0.0, 1.0)


def _grey(values: np.ndarray) -> np.ndarray:
    """(..., C) in [0, 1] with C = 1, 3 or 4 -> (...) grey; RGBA is composited over black."""
    c = values.shape[-1]
    if c == 1:
        return values[..., 0]
    luma = values[..., 0] * 0.299 + values[..., 1] * 0.587 + values[..., 2] * 0.114
    if c == 4:
        luma = luma * values[..., 3]
    return luma.astype(np.float32)


def _resize(frame: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> (64, 64): black-pad to a square, then area / bilinear resize."""
    h, w = frame.shape
    if h != w:
        side = max(h, w)
        # Pad with the background (the border's median): black for MovingMNIST-like clips, light for
        # dark-on-light ones, which normalise_polarity then inverts as a whole.
        border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        square = np.full((side, side), np.median(border), np.float32)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = frame
        frame = square
    if frame.shape[0] == OUTPUT_SIZE:
        return frame.astype(np.float32, copy=False)
    method = Image.Resampling.BOX if frame.shape[0] > OUTPUT_SIZE else Image.Resampling.BILINEAR
    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.float32))  # mode "F"
    out = np.asarray(img.resize((OUTPUT_SIZE, OUTPUT_SIZE), method), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)
