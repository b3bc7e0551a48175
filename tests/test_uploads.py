"""framepred.uploads: .npy / GIF -> float32 (T, 64, 64) in [0, 1]; every refusal is a clear ValueError."""

import struct

import numpy as np
import pytest
from PIL import Image

from framepred import uploads


def _frames(t=15, h=64, w=64, seed=0):
    return (np.random.default_rng(seed).random((t, h, w)) * 255).astype(np.uint8)


def _save_gif(path, frames, mode="L"):
    imgs = [Image.fromarray(f).convert(mode) for f in frames]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=40, loop=0)
    return path


def _raw_gif(canvas, frames, gct=False):
    """A structurally valid GIF (block layout only; pixel data is a stub): canvas (w, h), frames
    a list of (left, top, w, h) image descriptors."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *canvas, 0x80 if gct else 0, 0, 0))
    if gct:
        out += bytes(6)  # 2-colour global table
    for left, top, w, h in frames:
        out += b"!\xf9\x04\x00\x04\x00\x00\x00"  # graphic control extension
        out += b"," + struct.pack("<HHHHB", left, top, w, h, 0) + b"\x02\x02\x4c\x01\x00"
    return bytes(out + b";")


# -- conversions -----------------------------------------------------------------------------------
def test_uint8_npy_64x64_is_divided_by_255(tmp_path):
    frames = _frames(20)
    np.save(tmp_path / "a.npy", frames)
    out = uploads.load_upload(tmp_path / "a.npy")
    assert out.dtype == np.float32 and out.shape == (20, 64, 64)
    np.testing.assert_allclose(out, frames / 255.0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int16, np.int64, np.uint16])
def test_wider_integers_in_0_255_are_grey_levels(tmp_path, dtype):
    frames = _frames(12)
    np.save(tmp_path / "a.npy", frames.astype(dtype))
    np.testing.assert_allclose(uploads.load_upload(tmp_path / "a.npy"), frames / 255.0, atol=1e-6)


def test_float_rgb_and_rgba_become_grey_and_are_resized(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.random((12, 128, 128, 3)).astype(np.float32)
    np.save(tmp_path / "rgb.npy", rgb)
    out = uploads.load_upload(tmp_path / "rgb.npy")
    assert out.shape == (12, 64, 64) and 0.0 <= out.min() and out.max() <= 1.0
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    area = grey.reshape(12, 64, 2, 64, 2).mean((2, 4))  # 2x2 area average
    np.testing.assert_allclose(out, area, atol=1e-4)
    rgba = np.concatenate([rgb, np.zeros((12, 128, 128, 1), np.float32)], axis=-1)  # fully transparent
    np.save(tmp_path / "rgba.npy", rgba)
    assert uploads.load_upload(tmp_path / "rgba.npy").max() == 0.0  # composited over black


def test_single_channel_and_tiny_float_overshoot(tmp_path):
    frames = np.random.default_rng(2).random((11, 32, 32, 1)).astype(np.float64)
    frames[0, 0, 0, 0] = 1.0 + 1e-5  # rounding noise is clipped
    np.save(tmp_path / "a.npy", frames)
    out = uploads.load_upload(tmp_path / "a.npy")
    assert out.shape == (11, 64, 64) and out.max() <= 1.0


def test_non_square_frames_are_padded_not_stretched(tmp_path):
    frames = np.zeros((11, 32, 64), np.uint8)  # a 32 x 64 band, black with a white 16 x 16 square
    frames[:, 8:24, 24:40] = 255
    np.save(tmp_path / "a.npy", frames)
    out = uploads.load_upload(tmp_path / "a.npy")
    assert out[0, 24:40, 24:40].min() == 1.0  # the square stays square, centred
    assert out[0, :24].max() == 0.0 and out[0, 40:].max() == 0.0  # padded with the black background
    # A light band (dark strokes on white) is padded with its own light background, so that the
    # whole frame inverts cleanly.
    np.save(tmp_path / "b.npy", 255 - frames)
    light = uploads.load_upload(tmp_path / "b.npy")
    assert light[0, :16].min() == 1.0 and light[0, 48:].min() == 1.0
    inverted, flag = uploads.normalise_polarity(light)
    assert flag and np.allclose(inverted, out)


def test_gif_any_size_to_64x64(tmp_path):
    frames = _frames(14, 100, 100)
    path = _save_gif(tmp_path / "a.gif", frames)
    out = uploads.load_upload(path)
    assert out.shape == (14, 64, 64) and out.dtype == np.float32
    expected = np.asarray(Image.fromarray(frames[5]).resize((64, 64), Image.Resampling.BOX), np.float32) / 255
    assert np.abs(out[5] - expected).mean() < 0.02
    rgb = _save_gif(tmp_path / "rgb.gif", frames, mode="RGB")
    assert uploads.load_upload(rgb).shape == (14, 64, 64)


def test_max_used_frames_keeps_the_first_frames(tmp_path):
    frames = _frames(60)
    np.save(tmp_path / "a.npy", frames)
    out = uploads.load_upload(tmp_path / "a.npy", max_used_frames=40)
    np.testing.assert_allclose(out, frames[:40] / 255.0, atol=1e-6)
    path = _save_gif(tmp_path / "a.gif", frames[:30])
    assert uploads.load_upload(path, max_used_frames=12).shape == (12, 64, 64)


def test_the_extension_does_not_matter(tmp_path):
    np.save(tmp_path / "a.npy", _frames(12))
    (tmp_path / "a.npy").rename(tmp_path / "a.gif")
    assert uploads.load_upload(tmp_path / "a.gif").shape == (12, 64, 64)


# -- refusals --------------------------------------------------------------------------------------
def _npy(tmp_path, arr, name="x.npy"):
    np.save(tmp_path / name, arr, allow_pickle=True)
    return tmp_path / name


BAD_ARRAYS = {
    "too few frames": (np.zeros((10, 64, 64), np.uint8), "at least 11"),
    "rank 2": (np.zeros((64, 64), np.uint8), "dimension"),
    "rank 5": (np.zeros((12, 1, 64, 64, 1), np.uint8), "dimension"),
    "4-D not channels": (np.zeros((20, 12, 64, 64), np.uint8), "C = 1, 3 or 4"),
    "NaN": (np.full((12, 8, 8), np.nan, np.float32), "NaN"),
    "inf": (np.full((12, 8, 8), np.inf), "NaN or infinite"),
    "bool": (np.zeros((12, 8, 8), bool), "boolean"),
    "complex": (np.zeros((12, 8, 8), np.complex64), "complex"),
    "object": (np.array([[[None]]] * 12, dtype=object), "Python object"),
    "string": (np.full((12, 8, 8), "a"), "string"),
    "empty": (np.zeros((12, 0, 64), np.uint8), "empty"),
    "too many frames": (np.zeros((uploads.MAX_FRAMES + 1, 2, 2), np.uint8), f"limit is {uploads.MAX_FRAMES}"),
    "too large frames": (np.zeros((11, uploads.MAX_SIDE + 1, 2), np.uint8), "too large"),
    "float above 1": (np.full((12, 8, 8), 2.0, np.float32), "[0, 1]"),
    "negative float": (np.full((12, 8, 8), -0.5), "[0, 1]"),
    "int above 255": (np.full((12, 8, 8), 300, np.int32), "0..255"),
    "negative int": (np.full((12, 8, 8), -1, np.int8), "0..255"),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_bad_arrays_are_refused_clearly(tmp_path, case):
    arr, message = BAD_ARRAYS[case]
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        uploads.load_upload(_npy(tmp_path, arr))


def test_object_arrays_are_never_unpickled(tmp_path, monkeypatch):
    path = _npy(tmp_path, np.array([{"a": 1}] * 12, dtype=object))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be reached"))
    with pytest.raises(ValueError, match="Python object"):
        uploads.load_upload(path)


def test_file_size_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.npy"
    with open(path, "wb") as f:  # sparse: no disk space used
        f.truncate(uploads.MAX_FILE_BYTES + 1)
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("the file must not be opened"))
    with pytest.raises(ValueError, match="too large.*limit is 50 MiB"):
        uploads.load_upload(path)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello world, not a video", "Unsupported file type"),
    (b"\x93NUMPY\x01\x00" + b"\x00" * 50, "cannot be read"),
    (b"GIF89a\x00", "cannot be decoded"),
])
def test_undecodable_files(tmp_path, content, message):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        uploads.load_upload(tmp_path / "f")


def test_truncated_npy_and_gif(tmp_path):
    path = _npy(tmp_path, _frames(20))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ValueError, match="truncated"):
        uploads.load_upload(path)
    gif = _save_gif(tmp_path / "a.gif", _frames(20))
    gif.write_bytes(gif.read_bytes()[: int(gif.stat().st_size * 0.9)])
    with pytest.raises(ValueError, match="cannot be decoded"):
        uploads.load_upload(gif)


def test_gif_with_too_few_frames(tmp_path):
    with pytest.raises(ValueError, match="has 5 frames; at least 11"):
        uploads.load_upload(_save_gif(tmp_path / "a.gif", _frames(5)))


def test_gif_bombs_are_refused_from_the_headers(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("no frame may be decoded"))
    cases = {
        "huge canvas": (_raw_gif((60000, 60000), [(0, 0, 1, 1)] * 12, gct=True), "too large"),
        "frame outside canvas": (_raw_gif((16, 16), [(0, 0, 1, 1)] * 11 + [(0, 0, 5000, 3)]), "too large"),
        "too many frames": (_raw_gif((2, 2), [(0, 0, 1, 1)] * (uploads.MAX_FRAMES + 1)), "more than 1000"),
        "too many pixels": (_raw_gif((1024, 1024), [(0, 0, 1, 1)] * 100), "too large to decode"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / "b.gif").write_bytes(content)
        with pytest.raises(ValueError, match=message):
            uploads.load_upload(tmp_path / "b.gif")


def test_limits_are_named_constants():
    assert uploads.MIN_FRAMES == 11
    assert (uploads.MAX_FRAMES, uploads.MAX_SIDE, uploads.MAX_FILE_BYTES) == (1000, 1024, 50 * 2**20)
