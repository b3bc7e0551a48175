"""Fuzzing the served app: hundreds of malformed inputs through gradio_client (and, where the
client cannot send them, raw HTTP as a browser would), each of which must be refused with the
intended human message (or, for valid but odd ones, answered correctly); then the server must still
answer normal requests correctly. Endpoints: /predict_upload, /predict_test, /predict_generated,
/predict_drawn (a drawing as an image file, direction, speed), /compare_test (two models), and the
UI's own events as a browser sends them.

Everything is generated in memory / a temporary folder and is small: huge arrays and GIFs are
*declared* in headers (a .npy header with a huge shape and a short body, a GIF with a huge logical
screen, a PNG whose IHDR declares 30000 x 30000), never written out. Runs against the tiny models of
conftest.py (``default`` and ``other``) on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from framepred import uploads

pytestmark = pytest.mark.timeout(300)
FUZZ_CLIENTS = 4  # probes in flight at once

# -- the messages a user should see (regular expressions) ------------------------------------------
EMPTY = r"^The uploaded file is empty\.$"
UNSUPPORTED = r"^Unsupported file type: expected a \.npy array"
NOT_UPLOADED = r"^The (file|drawing) must be uploaded to this app \(gradio_client: handle_file\(path\); MCP: a URL\)"
NPY_UNREADABLE = r"^This \.npy file cannot be read \(damaged or not a NumPy array file\)"
NPY_TRUNCATED = r"^This \.npy file is truncated: its header declares"
GIF_UNDECODABLE = r"^This GIF cannot be decoded"
FEW_FRAMES = r"^The (sequence|GIF) has \d+ frames?; at least 11 are needed \(10 context frames \+ 1 to predict\)\.$"
MANY_FRAMES = r"^The (sequence has \d+ frames|GIF has more than 1000 frames); the limit is 1000\.$"
TOO_LARGE = r"^The (GIF )?frames are too large \(\d+ x \d+\); the limit is 1024 x 1024 pixels\.$"
TOO_SMALL = r"^The (GIF )?frames are too small \(\d+ x \d+\); they need at least 4 x 4 pixels\.$"
EMPTY_ARRAY = r"^The array is empty \(shape"
RANK = r"^The array has \d dimension\(s\) .*; expected a \.npy array \(T, H, W\) or \(T, H, W, C\)"
CHANNELS = r"^The array has shape .*: a 4-D array must be \(T, H, W, C\) with C = 1, 3 or 4 channels"
NAN = r"^The array contains NaN or infinite values\.$"
FLOAT_RANGE = r"^Float frames must lie in \[0, 1\], but values range from"
INT_RANGE = r"^Integer frames must hold grey levels 0\.\.255, but values range from"
NO_FILE = r"^Upload a \.npy, \.gif, \.mp4 or \.webm file first\.$"
HORIZON = r"^Frames to predict must be a whole number from 1 to 30, got .+\.$"
INDEX = r"^Test sequence index must be a whole number from 0 to \d+, got .+\.$"
SEED = r"^Seed must be a whole number from 0 to 4294967295, got .+\.$"
DIGITS = r"^Number of digits must be a whole number from 1 to 3, got .+\.$"
SPEED = r"^Speed must be a number from 0\.25 to 3(\.0)?, got .+\.$"
ANGLE = r"^Direction must be a number from 0 to 360, got .+\.$"
EXAMPLE = r"^Example must be a whole number from 0 to {last}, got .+\.$"
# Gradio's own slider check:
SLIDER_BOUNDS = r"^Value -?[\d.]+ is (greater|less) than (maximum|minimum) value -?[\d.]+\.$"
UNKNOWN_MODEL = r"^Unknown model .*\. Available: default, other\.$"
MODEL = r"^(Value: .* is not in the list of choices: \['default', 'other'\])$|" + UNKNOWN_MODEL
SAME_MODEL = r"^Choose two different models to compare\.$"
DRAW_NONE = r"^The drawing is empty: draw a digit first\.$"  # no file at all
DRAW_EMPTY_FILE = r"^The drawing is empty or could not be found: draw or upload a digit first\.$"
DRAW_EMPTY = r"^The drawing is empty: draw a digit first \(light strokes on dark, or dark on light\)\.$"
DRAW_UNREADABLE = (r"^The drawing could not be read as an image"
                   r"( \((UnidentifiedImageError|OSError|SyntaxError|ValueError)\))?\.$")
DRAW_SIZE = r"^A drawing must be 8 to 2048 pixels a side, got \d+ x \d+\.$"
DRAW_LARGE = (r"^The drawing (is larger than 2048 pixels a side|could not be read as an image "
              r"\(DecompressionBombError\))\.$")
DRAW_ANY = "|".join((DRAW_UNREADABLE, DRAW_EMPTY, DRAW_SIZE, DRAW_LARGE))
# A PNG text / ICC chunk that inflates to 64 MiB: Pillow refuses it (nothing is allocated), but
# sources.read_image passes Pillow's own ValueError through; tighten to DRAW_UNREADABLE once it is
# wrapped like the other Pillow errors.
DRAW_CHUNK_BOMB = DRAW_UNREADABLE  # Pillow refuses the chunk; the app says so in its own words
ANSWERED = "answered correctly"  # the expectation of a valid but odd request: a correct answer
REFUSED_BY_GRADIO = r"^refused by Gradio before the app ran"  # an error event without a message (call_raw)
GIF_ANY = "|".join((GIF_UNDECODABLE, FEW_FRAMES, MANY_FRAMES, TOO_LARGE, TOO_SMALL, UNSUPPORTED,
                    r"^The GIF is too large to decode"))
NPY_ANY = "|".join((NPY_UNREADABLE, NPY_TRUNCATED, UNSUPPORTED))


def _dtype_message(kind: str) -> str:
    return rf"^The array has {kind} values \(dtype .*\); frames must be uint8 0\.\.255"


# -- building malformed files (small: huge things are only declared) -------------------------------
def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def npy_header_only(shape, dtype="|u1", body: bytes = b"", version=(1, 0)) -> bytes:
    """A .npy header declaring ``shape`` / ``dtype`` followed by a short body: tiny on disk."""
    buf = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buf, header)
    else:
        np.lib.format.write_array_header_2_0(buf, header)
    return buf.getvalue() + body


def npy_raw_header(header: str, version: bytes = b"\x01\x00") -> bytes:
    """A .npy file with a hand-written (possibly invalid) header dictionary."""
    text = header.encode("latin1")
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(text)) + text


def gif_bytes(n_frames: int, size=(64, 64), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    frames = [Image.fromarray((rng.random(size[::-1]) * 255).astype(np.uint8)) for _ in range(n_frames)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    return buf.getvalue()


def raw_gif(canvas, frames, gct=False) -> bytes:
    """A structurally valid GIF (block layout only, stub pixel data): ``canvas`` (w, h), ``frames``
    a list of (left, top, w, h) image descriptors. Declares any size in a few bytes."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *canvas, 0x80 if gct else 0, 0, 0))
    if gct:
        out += bytes(6)
    for left, top, w, h in frames:
        out += b"!\xf9\x04\x00\x04\x00\x00\x00"
        out += b"," + struct.pack("<HHHHB", left, top, w, h, 0) + b"\x02\x02\x4c\x01\x00"
    return bytes(out + b";")


def random_bytes(rng, n: int, prefix: bytes = b"") -> bytes:
    body = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    if not prefix and body[:1] in (b"\x93", b"G"):
        body = b"\x00" + body[1:]  # never a magic number by chance
    return prefix + body


class Pickled:
    """Unpickling this object opens (creates) ``marker``: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def upload_cases(rng) -> list[tuple[str, str, bytes, str]]:
    """(case name, file name, content, expected message) for /predict_upload."""
    cases = []

    def add(name, content, message, filename="x.npy"):
        cases.append((name, filename, content, message))

    # Random bytes, with and without the magic numbers of the accepted formats.
    for i in range(12):
        add(f"random {i}", random_bytes(rng, int(rng.integers(1, 4000))), UNSUPPORTED, ("x.npy", "x.gif")[i % 2])
    for i in range(6):
        add(f"random after NPY magic {i}", random_bytes(rng, int(rng.integers(0, 3000)), b"\x93NUMPY"), NPY_ANY)
        add(f"random after NPY v1 {i}", random_bytes(rng, int(rng.integers(0, 3000)), b"\x93NUMPY\x01\x00"),
            NPY_ANY)
    for i in range(8):
        add(f"random after GIF magic {i}", random_bytes(rng, int(rng.integers(0, 3000)), b"GIF89a"), GIF_ANY,
            "x.gif")
    for ext in ("x.txt", "x.bin", "noextension", "x.npy.exe", "x.png"):  # the content decides, not the name
        add(f"wrong extension {ext}", npy_bytes(np.zeros((12, 64, 64), np.uint8)), ANSWERED, ext)

    # Zero-byte and truncated files.
    add("zero-byte .npy", b"", EMPTY)
    add("zero-byte .gif", b"", EMPTY, "x.gif")
    good_npy = npy_bytes((rng.random((12, 64, 64)) * 255).astype(np.uint8))
    for cut in (1, 5, 6, 8, 9, 10, 20, 60, 127, 128, 129, 1000, 20000, len(good_npy) - 1):
        add(f"npy cut at {cut}", good_npy[:cut], NPY_ANY)
    good_gif = gif_bytes(12)
    for frac in (0.0005, 0.002, 0.004, 0.01, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9):
        add(f"gif cut at {frac}", good_gif[: max(1, int(len(good_gif) * frac))], GIF_ANY, "x.gif")
    long_gif = gif_bytes(15, seed=1)
    for frac in (0.93, 0.96, 0.99):
        add(f"15-frame gif cut at {frac}", long_gif[: int(len(long_gif) * frac)], GIF_ANY, "x.gif")

    # Objects and pickles (must never be unpickled), other refused dtypes.
    add("object array", npy_bytes(np.array([None] * 12, dtype=object)), _dtype_message("Python object"))
    add("object frames", npy_bytes(np.full((12, 8, 8), None, dtype=object)), _dtype_message("Python object"))
    add("dict objects", npy_bytes(np.array([{"a": 1}] * 12, dtype=object)), _dtype_message("Python object"))
    add("structured with object", npy_bytes(np.zeros(12, dtype=[("a", "O"), ("b", "f4")])),
        _dtype_message("Python object|structured/void"))
    add("structured", npy_bytes(np.zeros((12, 8, 8), dtype=[("a", "u1"), ("b", "f4")])),
        _dtype_message("structured/void"))
    add("bool", npy_bytes(np.ones((12, 64, 64), bool)), _dtype_message("boolean"))
    add("complex64", npy_bytes(np.zeros((12, 64, 64), np.complex64)), _dtype_message("complex"))
    add("complex128", npy_bytes(np.zeros((12, 8, 8), np.complex128)), _dtype_message("complex"))
    add("strings", npy_bytes(np.full((12, 8, 8), "a")), _dtype_message("string"))
    add("bytes", npy_bytes(np.full((12, 8, 8), b"a")), _dtype_message("bytes"))
    add("datetime", npy_bytes(np.zeros((12, 8, 8), "datetime64[s]")), _dtype_message("datetime"))
    add("timedelta", npy_bytes(np.zeros((12, 8, 8), "timedelta64[s]")), _dtype_message("timedelta"))
    add("complex header only", npy_header_only((12, 8, 8), "<c16"), _dtype_message("complex"))

    # Values: NaN / inf, out-of-range floats and integers (int64 and friends).
    for dtype in (np.float16, np.float32, np.float64):
        for bad in (np.nan, np.inf, -np.inf):
            arr = np.zeros((12, 16, 16), dtype)
            arr[7, 3, 5] = bad
            add(f"{np.dtype(dtype).name} with {bad}", npy_bytes(arr), NAN)
    add("all NaN", npy_bytes(np.full((12, 64, 64), np.nan, np.float32)), NAN)
    add("floats 0..255", npy_bytes(np.full((12, 8, 8), 200.0, np.float32)), FLOAT_RANGE)
    add("negative floats", npy_bytes(np.full((12, 8, 8), -0.5)), FLOAT_RANGE)
    add("huge floats", npy_bytes(np.full((12, 8, 8), 1e300)), FLOAT_RANGE)
    for dtype, value in ((np.int64, 300), (np.int64, -1), (np.int64, 2**62), (np.int32, 256), (np.int16, -300),
                         (np.int8, -128), (np.uint16, 65535), (np.uint64, 2**64 - 1), (np.uint32, 256)):
        add(f"{np.dtype(dtype).name} = {value}", npy_bytes(np.full((12, 8, 8), value, dtype)), INT_RANGE)

    # Shapes: wrong rank, wrong channel count, empty, 1 / 10 / 10 000 frames, 1x1 / 8000x8000 frames.
    for shape in ((), (5,), (64, 64), (12, 1, 64, 64, 1), (2, 12, 64, 64, 1, 1), (1,) * 7):
        add(f"rank {len(shape)}", npy_bytes(np.zeros(shape, np.uint8)), RANK)
    for c in (2, 5, 64):
        add(f"{c} channels", npy_bytes(np.zeros((12, 8, 8, c), np.uint8)), CHANNELS)
    add("mnist_test_seq layout", npy_header_only((20, 10000, 64, 64)), CHANNELS)
    add("0 frames", npy_bytes(np.zeros((0, 64, 64), np.uint8)), EMPTY_ARRAY)
    add("0 width", npy_bytes(np.zeros((12, 64, 0), np.uint8)), EMPTY_ARRAY)
    for t in (1, 2, 10):
        add(f"{t} frames", npy_bytes(np.zeros((t, 64, 64), np.uint8)), FEW_FRAMES)
        add(f"{t} frames gif", gif_bytes(t), FEW_FRAMES, "x.gif")
    add("10 000 frames declared", npy_header_only((10_000, 64, 64)), MANY_FRAMES)
    add("10 000 frames of 4x4", npy_bytes(np.zeros((10_000, 4, 4), np.uint8)), MANY_FRAMES)
    add("2**40 frames declared", npy_header_only((2**40, 64, 64), "<f8"), MANY_FRAMES)
    add("10 000 frames gif", raw_gif((8, 8), [(0, 0, 8, 8)] * 10_000), MANY_FRAMES, "x.gif")
    add("1x1 frames", npy_bytes(np.zeros((12, 1, 1), np.uint8)), TOO_SMALL)
    add("1x64 frames", npy_bytes(np.zeros((12, 1, 64), np.uint8)), TOO_SMALL)
    add("3x3 rgb frames", npy_bytes(np.zeros((12, 3, 3, 3), np.uint8)), TOO_SMALL)
    add("1x1 gif", gif_bytes(12, size=(1, 1)), f"{TOO_SMALL}|{FEW_FRAMES}", "x.gif")  # Pillow merges equal frames
    add("8000x8000 declared", npy_header_only((12, 8000, 8000)), TOO_LARGE)
    add("8000x8000 rgba declared", npy_header_only((12, 8000, 8000, 4), "<f4"), TOO_LARGE)
    add("1025 wide declared", npy_header_only((12, 64, 1025)), TOO_LARGE)
    add("huge shape, short body", npy_header_only((1000, 1024, 1024), "<f8", b"\x00" * 100), NPY_TRUNCATED)
    add("12 frames, body missing", npy_header_only((12, 64, 64)), NPY_TRUNCATED)
    add("v2 header, body missing", npy_header_only((12, 64, 64), version=(2, 0)), NPY_TRUNCATED)

    # Broken .npy headers.
    for i, header in enumerate((
        "{'descr': '|u1', 'fortran_order': False, 'shape': (-12, 64, 64), }",
        "{'descr': '|u1', 'fortran_order': False, }",
        "{'descr': '<x9', 'fortran_order': False, 'shape': (12, 64, 64), }",
        "{'descr': '|u1', 'fortran_order': 'yes', 'shape': (12, 64, 64), }",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (12, 64, 64), 'extra': 1, }",
        "__import__('os').getcwd()",  # a header is parsed as a literal, never evaluated
        "{'descr': '|u1', 'fortran_order': False, 'shape': (12, 64.5, 64), }",
        "[1, 2, 3]",
        "{'descr': 'O', 'fortran_order': False, 'shape': (12, 64, 64), }",
    )):
        message = _dtype_message("Python object") if "'O'" in header else NPY_ANY
        add(f"bad npy header {i}", npy_raw_header(header), message)
    add("npy version 3", npy_raw_header("{'descr': '|u1', 'fortran_order': False, 'shape': (12, 8, 8), }",
                                        b"\x03\x00") + bytes(768), NPY_UNREADABLE)
    add("npy version 9", npy_raw_header("{}", b"\x09\x00"), NPY_UNREADABLE)
    add("npy huge header length", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{", NPY_UNREADABLE)

    # GIF bombs and giants: declared in a few bytes, refused from the headers.
    add("gif bomb 65535 canvas", raw_gif((65535, 65535), [(0, 0, 1, 1)] * 12, gct=True), TOO_LARGE, "x.gif")
    add("gif 8000x8000 canvas", raw_gif((8000, 8000), [(0, 0, 8000, 8000)] * 12), TOO_LARGE, "x.gif")
    add("gif frame sticking out", raw_gif((16, 16), [(0, 0, 16, 16)] * 11 + [(60000, 0, 5, 5)]), TOO_LARGE,
        "x.gif")
    add("gif tall frame", raw_gif((16, 16), [(0, 0, 16, 16)] * 11 + [(0, 0, 16, 9000)]), TOO_LARGE, "x.gif")
    add("gif 1x1 canvas", raw_gif((1, 1), [(0, 0, 1, 1)] * 12), TOO_SMALL, "x.gif")
    add("gif no frames", raw_gif((64, 64), []), FEW_FRAMES, "x.gif")
    add("gif stub pixels", raw_gif((64, 64), [(0, 0, 64, 64)] * 12), GIF_UNDECODABLE, "x.gif")
    add("gif header only", b"GIF89a", GIF_UNDECODABLE, "x.gif")
    add("gif87a header only", b"GIF87a\x40\x00", GIF_UNDECODABLE, "x.gif")
    return cases


# -- drawings (/predict_drawn) -----------------------------------------------------------------------
def image_bytes(arr: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    img = Image.fromarray(arr)
    buf = io.BytesIO()
    (img if mode is None else img.convert(mode)).save(buf, format=fmt)
    return buf.getvalue()


def ring(size: int = 280, fg: int = 255, bg: int = 0, width: int = 18) -> np.ndarray:
    """A "0" drawn on a ``size`` x ``size`` canvas (what the Draw tab's sketchpad gives), uint8."""
    from PIL import ImageDraw

    img = Image.new("L", (size, size), bg)
    ImageDraw.Draw(img).ellipse((0.32 * size, 0.18 * size, 0.68 * size, 0.82 * size), outline=fg, width=width)
    return np.asarray(img)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declared(width: int, height: int) -> bytes:
    """A structurally valid PNG whose IHDR declares ``width`` x ``height`` (grey, 8 bit) with a few
    bytes of pixel data: a decompression bomb's header in 70 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(bytes(64)))
            + png_chunk(b"IEND", b""))


def png_with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    return png[:33] + png_chunk(kind, data) + png[33:]


def drawn_file_cases(rng, pickle_npy: bytes) -> list[tuple[str, str, bytes, str]]:
    """(case name, file name, content, expected message or ANSWERED) for /predict_drawn's image, sent
    with a valid direction, speed and horizon."""
    cases = []

    def add(name, content, expected, filename="drawing.png"):
        cases.append((name, filename, content, expected))

    good = image_bytes(ring())
    for i in range(8):
        add(f"random {i}", random_bytes(rng, int(rng.integers(1, 4000))), DRAW_ANY,
            ("drawing.png", "drawing.jpg", "drawing.gif", "drawing")[i % 4])
    for i in range(4):
        add(f"random after PNG magic {i}", random_bytes(rng, int(rng.integers(0, 2000)), b"\x89PNG\r\n\x1a\n"),
            DRAW_UNREADABLE)
        add(f"random after JPEG magic {i}", random_bytes(rng, int(rng.integers(0, 2000)), b"\xff\xd8\xff\xe0"),
            DRAW_UNREADABLE, "drawing.jpg")
    add("zero-byte file", b"", DRAW_EMPTY_FILE)
    for cut in (1, 8, 16, 30, 33, 40, 60, 100, len(good) // 2, int(len(good) * 0.9)):
        add(f"png cut at {cut}", good[:cut], DRAW_UNREADABLE)
    jpeg = image_bytes(ring(), "JPEG")
    add("jpeg cut in half", jpeg[: len(jpeg) // 2], DRAW_UNREADABLE, "drawing.jpg")
    add("text file", b"not an image\n" * 20, DRAW_UNREADABLE, "drawing.txt")
    add("svg", b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="9"/></svg>', DRAW_UNREADABLE, "drawing.svg")
    add("npy of frames", npy_bytes(np.zeros((12, 64, 64), np.uint8)), DRAW_UNREADABLE, "drawing.npy")
    add("npy pickle", pickle_npy, DRAW_UNREADABLE, "drawing.npy")
    add("npy pickle named png", pickle_npy, DRAW_UNREADABLE)
    add("gif of 12 noise frames", gif_bytes(12), ANSWERED, "drawing.gif")  # its first frame: a noise blob
    # Sizes: too small, too large (declared in a few bytes: decompression bombs), just over the limit.
    add("1x1 png", image_bytes(np.zeros((1, 1), np.uint8)), DRAW_SIZE)
    add("7x7 png", image_bytes(np.full((7, 7), 255, np.uint8)), DRAW_SIZE)
    add("1x2048 png", image_bytes(np.full((1, 2048), 255, np.uint8)), DRAW_SIZE)
    add("30000x30000 declared", png_declared(30000, 30000), DRAW_LARGE)
    add("65535x65535 declared", png_declared(65535, 65535), DRAW_LARGE)
    add("3000x3000 declared", png_declared(3000, 3000), DRAW_LARGE)
    add("65535x1 declared", png_declared(65535, 1), DRAW_LARGE)
    add("2048x2048 declared, no pixels", png_declared(2048, 2048), DRAW_UNREADABLE)
    add("8x2049 png", image_bytes(np.zeros((8, 2049), np.uint8)), DRAW_LARGE)
    add("zTXt bomb", png_with_chunk(good, b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(64 << 20), 9)),
        DRAW_CHUNK_BOMB)
    add("iCCP bomb", png_with_chunk(good, b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(64 << 20), 9)),
        DRAW_CHUNK_BOMB)
    # Nothing drawn.
    add("all white", image_bytes(np.full((280, 280), 255, np.uint8)), DRAW_EMPTY)
    add("all black", image_bytes(np.zeros((280, 280), np.uint8)), DRAW_EMPTY)
    add("all white rgb", image_bytes(np.full((280, 280, 3), 255, np.uint8)), DRAW_EMPTY)
    add("transparent rgba", image_bytes(np.zeros((280, 280, 4), np.uint8)), DRAW_EMPTY)
    add("one dot", image_bytes(np.pad(np.full((1, 1), 255, np.uint8), 100)), DRAW_EMPTY)
    add("faint strokes", image_bytes(ring(fg=10)), DRAW_EMPTY)
    # Valid but odd: answered.
    add("dark on light", image_bytes(ring(fg=0, bg=255)), ANSWERED)
    add("jpeg", jpeg, ANSWERED, "drawing.jpg")
    add("gif", image_bytes(ring(), "GIF"), ANSWERED, "drawing.gif")
    add("palette png", image_bytes(ring(), mode="P"), ANSWERED)
    add("1-bit png", image_bytes(ring(), mode="1"), ANSWERED)
    add("16-bit png", image_bytes(ring().astype(np.uint16) * 257), ANSWERED)
    add("cmyk jpeg", image_bytes(ring(), "JPEG", "CMYK"), ANSWERED, "drawing.jpg")
    add("float tiff", image_bytes(ring(), "TIFF", "F"), ANSWERED, "drawing.tiff")
    add("painted rgba layer", image_bytes(np.dstack([ring()] * 3 + [ring()])), ANSWERED)
    add("8x8 canvas", image_bytes(np.pad(np.full((4, 4), 255, np.uint8), 2)), ANSWERED)
    add("2048x8 canvas", image_bytes(np.pad(np.full((4, 2040), 255, np.uint8), ((2, 2), (4, 4)))), ANSWERED)
    add("png without IEND", good[:-12], ANSWERED)
    add("wrong extension", good, ANSWERED, "drawing.jpg")
    return cases


def drawn_param_cases() -> list[tuple[tuple, str]]:
    """((direction, speed, horizon), expected) for /predict_drawn with a valid drawing."""
    bad_number = [1e308, -1e308, "abc", "", "30", "nan", "inf", None, [30], [], {"x": 1}, True, False, 2**64]
    cases = [((a, 1.0, 3), ANGLE) for a in [-1, -0.001, 360.001, 361, 720, -360, *bad_number]]
    cases += [((30, v, 3), SPEED) for v in [0, 0.24, 3.01, -1, 100, *bad_number]]
    cases += [((30, 1.0, h), HORIZON) for h in [0, 31, -1, 2.5, 1e9, *bad_number]]
    cases += [(("abc", "fast", 0), HORIZON), ((-1, 0, 3), ANGLE)]  # the horizon first, then the direction
    # Valid but odd: the ends of each range.
    cases += [((a, v, h), ANSWERED) for a, v, h in ((0, 1.0, 3), (360, 1.0, 3), (359.999, 1.0, 3), (-0.0, 1.0, 3),
                                                     (30, 0.25, 3), (30, 3, 3), (30, 3.0, 1), (90, 2.0, 30))]
    return cases


# -- two models (/compare_test) ----------------------------------------------------------------------
PATH_LIKE = ["/etc/passwd", "../checkpoints/default", "default/../other", "./default", "default/", "~",
             "C:\\Windows", "user/repo", "https://example.com/model", "default\x00", "DEFAULT", "untrained",
             " default", "x" * 10_000, 123, True, ["default"]]


def compare_cases() -> list[tuple[tuple, str | list]]:
    """((index, horizon, model a, model b), expected message, or the models the answer must list)."""
    cases = []
    for i in (-1, 10**9, 2.5, "abc", "", None, [0], True, 2**64, 1e308):
        cases.append(((i, 3, None, None), INDEX))
    for h in (0, 31, -1, 2.5, "x", "", None, [3], True, 1e308):
        cases.append(((0, h, None, None), HORIZON))
    for name in PATH_LIKE:
        cases.append(((0, 3, name, None), UNKNOWN_MODEL))
        cases.append(((0, 3, None, name), UNKNOWN_MODEL))
        cases.append(((0, 3, "default", name), UNKNOWN_MODEL))
    cases.append(((0, 3, "nope", "nope"), UNKNOWN_MODEL))
    for a, b in (("default", "default"), ("other", "other"), (None, "default"), ("", "default")):
        cases.append(((0, 3, a, b), SAME_MODEL))
    cases.append(((-1, 3, "nope", None), UNKNOWN_MODEL))  # models are checked before the sequence
    # Valid but odd: defaults for either model, either order, the ends of the ranges.
    for a, b, models in ((None, None, ["default", "other"]), ("", "", ["default", "other"]),
                         ("other", None, ["other", "default"]), ("other", "", ["other", "default"]),
                         (None, "other", ["default", "other"]), ("other", "default", ["other", "default"])):
        cases.append(((5, 3, a, b), models))
    cases.append(((0, 1, None, None), ["default", "other"]))
    cases.append(((999, 30, None, None), ["default", "other"]))
    return cases


def param_cases() -> list[tuple[str, tuple, str]]:
    """(endpoint, arguments, expected message) for bad slider / number values through gradio_client."""
    bad_common = [-1, -(2**63), 10**9, 2**64, 1e308, -1e308, 2.5, 0.5, "abc", "", "5", "nan", "inf", "1e3",
                  None, [1], [], {"x": 1}, True, False]
    cases = []
    for h in bad_common + [0, 31, 100, -0.0, 30.0001]:
        cases.append(("/predict_test", (0, h), HORIZON))
        cases.append(("/predict_generated", (0, 2, 1.0, h), HORIZON))
    for h in (0, 31, "x", None, 1.5):
        cases.append(("/predict_upload", (None, h), HORIZON))  # the horizon is checked before the file
    for i in bad_common + [1000, 10_000]:
        cases.append(("/predict_test", (i, 3), INDEX))
    for s in (-1, 2**32, 2**64, 1.5, "seed", None, [0], True, 1e300):
        cases.append(("/predict_generated", (s, 2, 1.0, 3), SEED))
    for d in (0, 4, -1, 2.5, "two", None, 1e9, [2], False):
        cases.append(("/predict_generated", (0, d, 1.0, 3), DIGITS))
    for v in (0, 0.1, 3.01, -1, 100, 1e308, "fast", "", None, [1.0], True):
        cases.append(("/predict_generated", (0, 2, v, 3), SPEED))
    cases.append(("/predict_upload", (None, 3), NO_FILE))
    return cases


# Values JSON can carry but gradio_client refuses to encode: sent as raw request bodies.
NON_FINITE = ("NaN", "Infinity", "-Infinity")
RAW_CASES = [
    *[("predict_test", f"[0, {v}]", HORIZON) for v in NON_FINITE],
    *[("predict_test", f"[{v}, 3]", INDEX) for v in NON_FINITE],
    *[("predict_generated", f"[{v}, 2, 1.0, 3]", SEED) for v in NON_FINITE],
    *[("predict_generated", f"[0, {v}, 1.0, 3]", DIGITS) for v in NON_FINITE],
    *[("predict_generated", f"[0, 2, {v}, 3]", SPEED) for v in NON_FINITE],
    *[("predict_generated", f"[0, 2, 1.0, {v}]", HORIZON) for v in NON_FINITE],
    *[("predict_upload", f"[null, {v}]", HORIZON) for v in NON_FINITE],
    *[("predict_drawn", f"[null, {v}, 1.0, 3]", ANGLE) for v in NON_FINITE],
    *[("predict_drawn", f"[null, 30, {v}, 3]", SPEED) for v in NON_FINITE],
    *[("predict_drawn", f"[null, 30, 1.0, {v}]", HORIZON) for v in NON_FINITE],
    *[("compare_test", f"[{v}, 3, null, null]", INDEX) for v in NON_FINITE],
    *[("compare_test", f"[0, {v}, null, null]", HORIZON) for v in NON_FINITE],
    ("predict_drawn", "[null, 30, 1.0, 3]", DRAW_NONE),
    ("compare_test", '[0, 3, ["default"], {"b": 1}]', UNKNOWN_MODEL),
    ("compare_test", '[0, 3, null, "../checkpoints/other"]', UNKNOWN_MODEL),
    # Files the user did not upload: Gradio refuses them before the app runs; anything that is not a
    # file payload at all, the app refuses (the server's files are never read, no URL is fetched).
    *[("predict_drawn", f"[{f}, 30, 1.0, 3]", REFUSED_BY_GRADIO) for f in (
        '{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}',
        '{"path": "../../../../../etc/passwd", "meta": {"_type": "gradio.FileData"}}',
        '{"path": "/proc/self/environ", "meta": {"_type": "gradio.FileData"}}',
        '{"path": "checkpoints/default/config.json", "meta": {"_type": "gradio.FileData"}}')],
    *[(name, f"[{f}, {rest}]", NOT_UPLOADED)
      for name, rest in (("predict_drawn", "30, 1.0, 3"), ("predict_upload", "3"))
      for f in ('"/etc/passwd"', '"checkpoints/default/model.safetensors"', "123", "[]", "{}", '{"path": null}',
                '{"path": "/etc/passwd"}', '{"path": "/etc/passwd", "meta": {"_type": "other"}}')],
    ("predict_drawn", "[null, 30, 1.0]", REFUSED_BY_GRADIO),  # too few inputs
    ("compare_test", "[0, 3]", REFUSED_BY_GRADIO),
]

# Model choices a browser could send through the UI's events (never a path on the server).
MODEL_CHOICES = ["/etc", "/etc/passwd", "../x", "../checkpoints/default", "default/../../etc", "./default",
                 "default/", "~", "~root", "C:\\Windows", "\\\\server\\share", "", " ", "default\x00",
                 "DEFAULT", "untrained", "user/repo", "https://example.com/model", 123, 1.5, True,
                 ["/etc"], ["default"], {"path": "/etc"}]


# -- talking to the server -------------------------------------------------------------------------
def call_raw(url: str, api_name: str, body: str) -> str | None:
    """POST a raw JSON body to /gradio_api/call/<api_name>; the error message, or None on success.
    An error without a message (Gradio refused the payload before the app ran: a file the user did
    not upload, a malformed file payload, too few inputs) is reported as such, never as a success."""
    r = httpx.post(f"{url}/gradio_api/call/{api_name}", content='{"data": ' + body + "}",
                   headers={"content-type": "application/json"}, timeout=30)
    if r.status_code != 200:
        return f"HTTP {r.status_code}: {r.text}"
    stream = httpx.get(f"{url}/gradio_api/call/{api_name}/{r.json()['event_id']}", timeout=60).text
    event = re.findall(r"^event: (\w+)\ndata: (.*)$", stream, re.M)[-1]
    if event[0] == "complete":
        return None
    message = (json.loads(event[1]) or {}).get("error") if event[1] != "null" else None
    return "refused by Gradio before the app ran (no message)" if message is None else message


class Browser:
    """The UI's own (private) events, called as the page does: queue/join, then the SSE stream."""

    def __init__(self, url: str, fn: dict | None = None):
        self.url = url
        self.session = uuid.uuid4().hex[:12]
        if fn is None:
            config = httpx.get(f"{url}/config", timeout=30).json()
            fn = {d.get("api_name"): d["id"] for d in config["dependencies"]}
        self.fn = fn

    def session_copy(self) -> "Browser":
        """Another page (a new session) of the same app."""
        return Browser(self.url, self.fn)

    def call(self, api_name: str, data: list, query: dict | None = None) -> tuple[bool, object]:
        """(success, output data or error message); ``query``: the page URL's query, which the page
        sends along (a deep link)."""
        body = {"data": data, "fn_index": self.fn[api_name], "session_hash": self.session,
                "event_data": None, "trigger_id": None}
        r = httpx.post(f"{self.url}/gradio_api/queue/join", json=body, params=query, timeout=30)
        r.raise_for_status()
        event_id = r.json()["event_id"]
        with httpx.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session},
                          timeout=60) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                    if msg.get("success"):
                        return True, msg["output"]["data"]
                    return False, (msg.get("output") or {}).get("error")
        raise AssertionError(f"no result for {api_name}{data}")


class Tally:
    """Counts probes; a probe is clean when it was refused with the expected message, or, expected
    ``ANSWERED``, answered correctly (its check returned None). Anything else (a success where a
    refusal was due, a generic error, a different message, a wrong answer) counts as a crash."""

    def __init__(self):
        self.tried, self.clean, self.answered, self.failures = 0, 0, 0, []

    def check(self, name: str, message, expected: str):
        self.tried += 1
        if expected == ANSWERED:
            if message is None:
                self.answered += 1
            else:
                self.failures.append(f"{name}: got {message!r}, expected a correct answer")
        elif isinstance(message, str) and re.search(expected, message, re.S):
            self.clean += 1
        else:
            self.failures.append(f"{name}: got {message!r}, expected /{expected}/")


def _error_message(exc: BaseException) -> str:
    """The app's message for an error the app raised; the exception's type and text for anything else
    (a transport error such as httpx.ReadTimeout has an empty str(), which hid its cause once)."""
    from gradio_client.exceptions import AppError

    if isinstance(exc, AppError):
        return str(exc).strip().strip("'\"")
    return f"{type(exc).__name__}: {exc}"


# -- the tests -------------------------------------------------------------------------------------
def ui_report(browser: "Browser", app_module) -> dict:
    """The metrics JSON of ``browser``'s (its session's) last UI prediction, as the page gets it: the
    prediction's second step (show_details), which reads the prediction kept for the session."""
    ok, out = browser.call("show_details", [None, False])  # (state inputs: the session's own values)
    assert ok, out
    return out[app_module.detail_outputs.index(app_module.json_out)]


@pytest.mark.slow
def test_fuzz_batch_is_refused_cleanly_and_the_server_survives(app_url, app_module, tmp_path, capsys, make_client):
    import socket

    from gradio_client import handle_file

    client = make_client(app_url)
    browser = Browser(app_url)
    rng = np.random.default_rng(2024)
    probes = []  # (name, a call returning the error message or None on success, expected message)
    # One client per worker thread, as each real user has their own: a gradio_client.Client shared
    # by threads races with itself and cancels jobs (CancelledError) that the server answered fine.
    local = threading.local()

    def via_client(*args, api_name, check=None):
        """The app's error message; None on success (with ``check``: None when the answer is right,
        else what is wrong with it)."""
        if not hasattr(local, "client"):
            local.client = make_client(app_url)
        try:
            out = local.client.predict(*args, api_name=api_name)
        except Exception as e:
            return _error_message(e)
        return None if check is None else check(out)

    def via_browser(api_name, data):
        ok, out = browser.session_copy().call(api_name, data)  # one session per call: calls run at once
        return None if ok else out

    def file_at(i: int, filename: str, content: bytes) -> str:
        path = tmp_path / f"{i:03d}" / filename
        path.parent.mkdir()
        path.write_bytes(content)
        return str(path)

    def drawn_ok(horizon):
        def check(out):
            gif, npy, report = out
            shape = np.load(npy).shape
            drawn = report["source"].startswith("drawn")
            if shape != (horizon, 64, 64) or report.get("horizon") != horizon or not drawn:
                return f"wrong answer: prediction {shape}, report {report}"
            return None
        return check

    def compare_ok(models, horizon):
        def check(out):
            gif, report = out
            got = [m["model"] for m in report.get("models", [])]
            if got != models or report.get("horizon") != horizon or report["model"] != models[0]:
                return f"wrong answer: models {got}, report {report}"
            with Image.open(gif) as im:
                if im.n_frames != 10 + horizon:
                    return f"wrong GIF: {im.n_frames} frames"
            return None
        return check

    n = 0
    for name, filename, content, expected in upload_cases(rng):
        path, n = file_at(n, filename, content), n + 1
        probes.append((f"upload {name}", lambda p=path: via_client(handle_file(p), 3, api_name="/predict_upload"),
                       expected))
    for api_name, args, expected in param_cases():
        probes.append((f"{api_name}{args!r}", lambda a=args, n=api_name: via_client(*a, api_name=n), expected))

    # /predict_drawn: malformed drawings (valid settings), then malformed settings (a valid drawing).
    marker = tmp_path / "drawn-pickle-marker"
    pickle_npy = npy_bytes(np.array([Pickled(str(marker))] * 12, dtype=object))
    for name, filename, content, expected in drawn_file_cases(rng, pickle_npy):
        path, n = file_at(n, filename, content), n + 1
        probes.append((f"drawn {name}", lambda p=path: via_client(handle_file(p), 30, 1.0, 3, api_name="/predict_drawn",
                                                                  check=drawn_ok(3)), expected))
    drawing, n = file_at(n, "drawing.png", image_bytes(ring())), n + 1
    for (angle, speed, horizon), expected in drawn_param_cases():
        probes.append((f"/predict_drawn(drawing, {angle!r:.60}, {speed!r}, {horizon!r})",
                       lambda a=angle, s=speed, h=horizon: via_client(handle_file(drawing), a, s, h,
                                                                      api_name="/predict_drawn", check=drawn_ok(h)),
                       expected))
    probes.append(("/predict_drawn(None, ...)", lambda: via_client(None, 30, 1.0, 3, api_name="/predict_drawn"),
                   DRAW_NONE))

    # /compare_test: bad indices, horizons and model names, the same model twice; defaults answered.
    for (index, horizon, a, b), expected in compare_cases():
        check = compare_ok(expected, horizon) if isinstance(expected, list) else None
        probes.append((f"/compare_test({index!r}, {horizon!r}, {a!r:.40}, {b!r:.40})",
                       lambda i=index, h=horizon, a=a, b=b, c=check: via_client(i, h, a, b, api_name="/compare_test",
                                                                                check=c),
                       ANSWERED if check else expected))

    # Raw HTTP: values gradio_client cannot encode, files the user did not upload, URLs to fetch.
    listener = socket.socket()  # a URL on this machine: the server must never connect to it
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0)
    port = listener.getsockname()[1]
    file_data = '"meta": {"_type": "gradio.FileData"}'
    url_cases = [("predict_drawn", f'[{{"path": "http://127.0.0.1:{port}/d.png", {file_data}}}, '
                                   "30, 1.0, 3]"),
                 ("predict_drawn", f'[{{"url": "http://127.0.0.1:{port}/d.png", "path": "d.png", '
                                   '"meta": {"_type": "gradio.FileData"}}, 30, 1.0, 3]'),
                 ("predict_upload", f'[{{"path": "http://127.0.0.1:{port}/u.npy", {file_data}}}, '
                                    "3]")]
    for api_name, body, expected in [*RAW_CASES, *[(a, b, REFUSED_BY_GRADIO) for a, b in url_cases]]:
        probes.append((f"raw {api_name} {body}", lambda n=api_name, b=body: call_raw(app_url, n, b), expected))

    # The UI's own events, as a browser sends them: model choices that are paths or junk.
    for choice in MODEL_CHOICES:
        probes.append((f"select_model({choice!r})", lambda c=choice: via_browser("select_model", [c]), MODEL))
        probes.append((f"ui_predict_test(model={choice!r})",
                       lambda c=choice: via_browser("ui_predict_test", [0, 3, c, ""]), MODEL))
        probes.append((f"ui_predict_test(compare={choice!r})",
                       lambda c=choice: via_browser("ui_predict_test", [0, 3, "default", c]),
                       ANSWERED if choice == "" else  # "" is "— none —": one model
                       MODEL.replace(r"\['default', 'other'\]", r"\['', 'default', 'other'\]")))
    probes.append(("ui_predict_test(default compared with default)",
                   lambda: via_browser("ui_predict_test", [0, 3, "default", "default"]), SAME_MODEL))
    # A click on an example sends its number only; "Random sequence" sends the common inputs.
    for event, rows in (("ui_example_test", app_module.TEST_EXAMPLES),
                        ("ui_example_generated", app_module.GENERATE_EXAMPLES),
                        ("ui_example_upload", app_module.UPLOAD_EXAMPLES)):
        last = len(rows) - 1
        for i in (-1, last + 1, 0.5, "0", None, [0], True, 1e308, {"i": 0}):
            probes.append((f"{event}({i!r})", lambda e=event, i=i: via_browser(e, [i, 3, "default", ""]),
                           EXAMPLE.format(last=last)))
        probes.append((f"{event}({last})", lambda e=event, i=last: via_browser(e, [i, 3, "default", ""]), ANSWERED))
    for h, expected in ((0, SLIDER_BOUNDS), (31, SLIDER_BOUNDS), (2.5, HORIZON), (30, ANSWERED)):
        probes.append((f"ui_predict_random({h!r})", lambda h=h: via_browser("ui_predict_random", [h, "default", ""]),
                       expected))

    tally = Tally()
    start = time.perf_counter()
    with ThreadPoolExecutor(FUZZ_CLIENTS) as pool:  # a few users at once, as on a Space
        futures = {pool.submit(call): (name, expected) for name, call, expected in probes}
        for future in as_completed(futures):
            name, expected = futures[future]
            try:
                message = future.result(timeout=120)
            except Exception as e:  # the probe itself failed (timeout, connection refused, ...)
                message = f"probe failed: {type(e).__name__}: {e}"
            tally.check(name, message, expected)
    elapsed = time.perf_counter() - start
    crashed = tally.tried - tally.clean - tally.answered
    with capsys.disabled():
        print(f"\nfuzz: tried {tally.tried} / rejected cleanly {tally.clean} / answered {tally.answered} "
              f"(valid but odd) / crashed {crashed} ({elapsed:.1f} s)")
    assert crashed == 0, "\n".join(tally.failures)
    assert tally.tried >= 200
    try:
        listener.accept()
        pytest.fail("the server connected to a URL named in a request")
    except BlockingIOError:
        pass  # nobody called
    finally:
        listener.close()
    assert not marker.exists()  # the pickle sent as a drawing never ran

    # The server still answers normal requests, correctly.
    gif, npy, report = client.predict(3, 10, api_name="/predict_test")
    assert np.load(npy).shape == (10, 64, 64) and report["ground_truth_frames"] == 10
    with Image.open(gif) as im:
        assert im.n_frames == 20
    np.save(tmp_path / "ok.npy", (rng.random((13, 64, 64)) * 255).astype(np.uint8))
    gif, npy, report = client.predict(handle_file(str(tmp_path / "ok.npy")), 5, api_name="/predict_upload")
    assert np.load(npy).shape == (5, 64, 64) and report["ground_truth_frames"] == 3
    gif, npy, report = client.predict(handle_file(drawing), 45, 1.5, 5, api_name="/predict_drawn")
    assert np.load(npy).shape == (5, 64, 64) and report["ground_truth_frames"] == 5
    gif, report = client.predict(7, 4, None, None, api_name="/compare_test")
    assert [m["model"] for m in report["models"]] == ["default", "other"] and report["horizon"] == 4
    ok, out = browser.call("ui_predict_generated", [1, 2, 1.0, 4, "default", ""])
    report = ui_report(browser, app_module)
    assert ok and report["horizon"] == 4 and len(report["models"]) == 1
    ok, out = browser.call("ui_predict_test", [3, 4, "default", "other"])
    assert ok and [m["model"] for m in ui_report(browser, app_module)["models"]] == ["default", "other"]


# Page URLs a visitor could open: (query, the source the page must then show).
DEEP_LINKS = [
    ({"source": "generate", "seed": "5", "digits": "2", "speed": "2", "horizon": "12"},
     "generated: seed 5, 2 digit(s), speed 2"),
    ({"source": "test", "index": "42", "horizon": "10", "model": "other", "compare": "default"}, "test sequence 42"),
    ({"index": "7"}, "test sequence 7"),
    ({"source": "generate", "seed": " 5 ", "speed": "1e0"}, "generated: seed 5, 2 digit(s), speed 1"),
    *[(q, "test sequence 3") for q in (  # refused (a message) or naming no view: the default view
        {}, {"source": ""}, {"source": "x" * 10_000}, {"source": "../../etc/passwd"}, {"source": "drawn"},
        {"source": "upload", "file": "/etc/passwd"}, {"index": "-1"}, {"index": "1e400"}, {"index": "nan"},
        {"index": "0x10"}, {"index": "3.5"}, {"index": "9" * 400}, {"horizon": "0"}, {"horizon": "31"},
        {"horizon": "inf"}, {"horizon": ""}, {"source": "generate", "seed": "-5"},
        {"source": "generate", "seed": "2" * 40},
        {"source": "generate", "digits": "0"}, {"source": "generate", "speed": "-inf"},
        {"source": "generate", "speed": "3.01"}, {"model": "/etc/passwd"}, {"model": "../checkpoints/default"},
        {"model": "nope"}, {"compare": "nope"}, {"model": "other", "compare": "other"}, {"model": "default\x00"},
        {"__theme": "dark"}, {"view": "api"}, {"index": "\u0661\u0662"}, {"source": "test\ntest"})],
]


@pytest.mark.slow
def test_deep_links_open_their_view_or_the_default_one(app_url, app_module):
    """The page's load event with a URL query, as a browser sends it: a view it names opens, anything
    else gets the default view (with a message), never an error or a crash."""
    browser = Browser(app_url)
    def load(query):
        page = browser.session_copy()
        ok, out = page.call("first_view", ["default", ""], query)
        return ok, (ui_report(page, app_module)["source"] if ok else out)

    with ThreadPoolExecutor(FUZZ_CLIENTS) as pool:
        answers = list(pool.map(load, [q for q, _ in DEEP_LINKS]))
    wrong = [(q, got, want) for (q, want), got in zip(DEEP_LINKS, answers) if got != (True, want)]
    assert not wrong, "\n".join(map(repr, wrong))


def test_an_upload_example_click_works_wherever_the_app_was_started(app_url, app_module, monkeypatch, tmp_path):
    """The example clips live in examples/: a click on one fills the upload field with it and
    predicts it, also when the app's working directory is elsewhere (Gradio serves only allowed paths)."""
    monkeypatch.chdir(tmp_path)
    browser = Browser(app_url)
    for i, (path,) in enumerate(app_module.UPLOAD_EXAMPLES):
        page = browser.session_copy()
        ok, out = page.call("ui_example_upload", [i, 3, "default", ""])
        assert ok, out
        assert out[0]["orig_name"] == Path(path).name and ui_report(page, app_module)["source"].startswith("upload: ")


def test_pickled_payload_never_runs(app_url, tmp_path, make_client):
    """An object array whose unpickling would create a file: refused, and the file never appears."""
    from gradio_client import handle_file

    control, marker = tmp_path / "control-marker", tmp_path / "server-marker"
    live = npy_bytes(np.array([Pickled(str(control))] * 12, dtype=object))
    np.load(io.BytesIO(live), allow_pickle=True)  # the payload is live: unpickling runs the code
    assert control.exists()

    (tmp_path / "evil.npy").write_bytes(npy_bytes(np.array([Pickled(str(marker))] * 12, dtype=object)))
    (tmp_path / "evil.gif").write_bytes((tmp_path / "evil.npy").read_bytes())  # the name does not matter
    client = make_client(app_url)
    for name in ("evil.npy", "evil.gif"):
        with pytest.raises(Exception) as err:
            client.predict(handle_file(str(tmp_path / name)), 3, api_name="/predict_upload")
        assert re.search(_dtype_message("Python object"), _error_message(err.value))
    for name in ("evil.npy", "evil.gif"):  # sent as a drawing: not an image, never unpickled
        with pytest.raises(Exception) as err:
            client.predict(handle_file(str(tmp_path / name)), 30, 1.0, 3, api_name="/predict_drawn")
        assert re.search(DRAW_UNREADABLE, _error_message(err.value)), _error_message(err.value)
    assert not marker.exists()
    with pytest.raises(ValueError, match="Python object"):  # the library, directly
        uploads.load_upload(tmp_path / "evil.npy")
    from framepred.serving import sources

    with pytest.raises(ValueError, match="could not be read as an image"):
        sources.read_image(str(tmp_path / "evil.npy"))
    assert not marker.exists()


def test_upload_size_limit_is_enforced_by_the_server(app_url, app_module):
    """An upload one byte over MAX_FILE_SIZE is cut off with 413 while it streams (nothing is kept)."""
    from benchmarks.load import post_upload  # the load script's probe (benchmarks/ beside tests/)

    assert app_module.LAUNCH_KWARGS["max_file_size"] == app_module.MAX_FILE_SIZE == uploads.MAX_FILE_BYTES
    assert app_module.demo.max_file_size == app_module.MAX_FILE_SIZE
    status, text = post_upload(app_url, app_module.MAX_FILE_SIZE + 1)
    assert status == 413 and "maximum allowed size" in text
    status, text = post_upload(app_url, 1000)
    assert status == 200


def test_corrupt_and_foreign_checkpoints_through_the_ui(app_url, app_module, app_checkpoints, tmp_path, make_client):
    """Broken model folders appear in checkpoints/ while the app runs; a browser session lists and
    selects them: each gives a clear error, and the default model keeps serving."""
    import safetensors.torch
    import torch

    default = app_checkpoints / "default"
    added = {name: app_checkpoints / name for name in ("broken", "foreign", "mismatch", "huge", "garbled")}
    try:
        for d in added.values():
            shutil.copytree(default, d)
        (added["broken"] / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(5000))
        foreign = {"encoder.weight": torch.zeros(10, 10), "head.bias": torch.zeros(3)}  # another architecture
        safetensors.torch.save_file(foreign, str(added["foreign"] / "model.safetensors"))
        cfg = json.loads((default / "config.json").read_text())
        (added["mismatch"] / "config.json").write_text(json.dumps({**cfg, "hidden_dims": [16, 16, 16]}))
        (added["huge"] / "config.json").write_text(json.dumps({**cfg, "hidden_dims": [8192] * 4}))
        (added["garbled"] / "config.json").write_bytes(b"\xff\xfe{not json")

        browser = Browser(app_url)
        ok, out = browser.call("first_view", ["default", ""])  # what the page does on load
        assert ok and {"broken", "foreign", "mismatch", "huge", "garbled"} <= {v for _, v in out[0]["choices"]}
        assert {"broken", "foreign", "mismatch", "huge", "garbled"} <= {v for _, v in out[1]["choices"]}
        client = make_client(app_url)
        for name in added:
            expected = rf"^Could not load model '{name}': .+ The default model 'default' is still available\.$"
            for api_name, data in (("select_model", [name]), ("ui_predict_test", [0, 3, name, ""]),
                                   ("ui_predict_test", [0, 3, "default", name])):  # compared with
                ok, message = browser.call(api_name, data)
                assert not ok and re.match(expected, message), (api_name, data, message)
            for args in ((0, 3, name, None), (0, 3, None, name)):  # the API names models too
                with pytest.raises(Exception) as err:
                    client.predict(*args, api_name="/compare_test")
                assert re.match(expected, _error_message(err.value)), _error_message(err.value)
        ok, message = browser.call("select_model", ["huge"])
        assert "limit is 20,000,000" in message
        ok, out = browser.call("first_view", ["broken", "other"])  # a broken model remembered: the page still opens
        assert ok and out[0]["value"] == "broken"  # (its prediction failed: a warning, the rest left as it was)
        ok, out = browser.call("ui_predict_test", [0, 3, "default", ""])
        assert ok and ui_report(browser, app_module)["model"] == "default"
        gif, npy, report = client.predict(0, 3, api_name="/predict_test")
        assert report["model"] == "default" and np.load(npy).shape == (3, 64, 64)
        gif, report = client.predict(0, 3, "default", "other", api_name="/compare_test")
        assert [m["model"] for m in report["models"]] == ["default", "other"]
    finally:
        for d in added.values():
            shutil.rmtree(d, ignore_errors=True)


def test_weights_are_read_only_from_safetensors(app_module, app_checkpoints, tmp_path, monkeypatch):
    """No pickle-based loader is ever used for model files; a torch pickle named like the weights fails."""
    import torch

    d = tmp_path / "ckpts" / "pickled"
    shutil.copytree(app_checkpoints / "default", d)
    marker = tmp_path / "weights-marker"
    torch.save({"x": Pickled(str(marker))}, d / "model.safetensors")  # a pickle in disguise
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(d.parent))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load must never be used"))
    with pytest.raises(ValueError, match="Could not load model 'pickled'"):
        app_module.models.get_model("pickled")
    assert not marker.exists()
