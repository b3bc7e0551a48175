"""MP4 / WebM in (framepred.video through framepred.uploads) and MP4 out, with PyAV; tiny clips."""

from fractions import Fraction

import av
import numpy as np
import pytest

from framepred import data, metrics, uploads, video, viz


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """A MovingMNIST sequence, uint8 (20, 64, 64)."""
    return data.test_set(1)[0]


def _write_webm(path, frames: np.ndarray, fps: int = 10) -> None:
    """A VP9 WebM of grey uint8 frames (T, H, W), written with PyAV as any other program would."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.repeat(f[:, :, None], 3, 2), format="rgb24")))
        out.mux(stream.encode())


def _frame_count(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_mp4_round_trip_keeps_the_frames(tmp_path, clip, codec):
    path = video.write_mp4(tmp_path / "a.mp4", list(clip), codec=codec)
    back = uploads.load_upload(path)  # recognised by its bytes: the upload path reads videos too
    assert back.shape == (20, 64, 64) and back.dtype == np.float32
    # Lossy, but far below what tells models apart (a trained model's MSE is ~40-60 on this scale).
    assert metrics.frame_mse(back, clip / 255.0).max() < 1.0
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == ("h264" if codec == "libx264" else "mpeg4")


def test_webm_is_read_and_only_the_frames_in_use_are_returned(tmp_path, clip):
    _write_webm(tmp_path / "a.webm", clip)
    full = uploads.load_upload(tmp_path / "a.webm")
    assert full.shape == (20, 64, 64)
    assert metrics.frame_mse(full, clip / 255.0).max() < 5.0
    first = uploads.load_upload(tmp_path / "a.webm", max_used_frames=12)
    np.testing.assert_array_equal(first, full[:12])


def test_odd_sized_colour_frames_become_grey_64x64(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (37, 51, 3), dtype=np.uint8) for _ in range(12)]
    path = video.write_mp4(tmp_path / "odd.mp4", frames)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (52, 38)  # padded to even sides
    assert uploads.load_upload(path).shape == (12, 64, 64)


def test_sequence_mp4_has_the_gifs_frames_and_timing(tmp_path, clip):
    seq = clip / 255.0
    pred = np.clip(seq[10:] + 0.1, 0, 1).astype(np.float32)
    extra = np.concatenate([pred, pred[:5]])  # horizon 15, beyond the ground truth
    path = video.save_sequence_mp4(tmp_path / "s.mp4", seq[:10], seq[10:], extra)
    gif = viz.sequence_gif_frames(seq[:10], seq[10:], extra)
    with av.open(path) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 10 + 15
    assert (frames[0].width, frames[0].height) == gif[0].size
    starts = [float(f.pts * f.time_base) for f in frames]
    ms = np.diff(np.round(np.array(starts) * 1000)).astype(int).tolist()
    assert ms == viz.frame_durations(10, 25)[:-1]  # the beat after the context, as in the GIF
    # A predicted frame looks like the GIF's (colour is subsampled: compare grey levels).
    mp4_grey = np.asarray(frames[15].to_image().convert("L"), dtype=float)
    gif_grey = np.asarray(gif[15].convert("L"), dtype=float)
    assert np.abs(mp4_grey - gif_grey).mean() < 3
    # Read back as an upload: the long last frame (the hold) is no sign of truncation.
    assert uploads.load_upload(path).shape == (25, 64, 64)


def test_a_failed_write_leaves_nothing(tmp_path, clip):
    (tmp_path / "keep.mp4").write_bytes(b"old")
    with pytest.raises(Exception):
        video.write_mp4(tmp_path / "new.mp4", list(clip), codec="no-such-encoder")
    with pytest.raises(ValueError, match="differ in size"):
        video.write_mp4(tmp_path / "keep.mp4", [clip[0], clip[0][:32]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]
    assert (tmp_path / "keep.mp4").read_bytes() == b"old"


# -- bad files: clear messages ---------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0.05, 0.1, 0.3, 0.6, 0.9])
def test_truncated_videos_are_refused(tmp_path, clip, keep):
    mp4 = video.write_mp4(tmp_path / "a.mp4", list(clip))
    webm = tmp_path / "a.webm"
    _write_webm(webm, clip)
    for path in (tmp_path / "a.mp4", webm):
        content = path.read_bytes()
        path.write_bytes(content[: int(len(content) * keep)])
        with pytest.raises(ValueError, match=r"(MP4|WebM) video (cannot be decoded: the file looks damaged or "
                                             r"truncated|is truncated)"):
            uploads.load_upload(path)
    assert mp4


@pytest.mark.parametrize("name, kind", [("clip.mp4", "an MP4 video"), ("clip.webm", "a WebM video")])
def test_a_text_file_named_as_a_video_is_refused(tmp_path, name, kind):
    (tmp_path / name).write_text("not a video at all\n" * 20)
    with pytest.raises(ValueError, match=rf"^Unsupported file type: expected .*\.mp4 / \.webm video; this file "
                                         rf"is named \.{name.split('.')[1]} but its content is not {kind}\.$"):
        uploads.load_upload(tmp_path / name)


def test_a_video_header_with_garbage_after_it_is_refused(tmp_path):
    (tmp_path / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="MP4 video cannot be decoded"):
        uploads.load_upload(tmp_path / "fake.mp4")


def test_frame_count_limits(tmp_path, clip, monkeypatch):
    few = video.write_mp4(tmp_path / "few.mp4", list(clip[:5]))
    with pytest.raises(ValueError, match=r"^The video has 5 frames; at least 11 are needed"):
        uploads.load_upload(few)
    # MP4: the count in the header is refused before any frame is decoded.
    many = video.write_mp4(tmp_path / "many.mp4", [clip[0][:16, :16]] * (uploads.MAX_FRAMES + 1), codec="mpeg4")
    with pytest.raises(ValueError, match=r"^The video has 1001 frames; the limit is 1000\.$"):
        uploads.load_upload(many)
    # WebM headers have no count: the frames are counted while demuxing (the limit lowered to keep it small).
    _write_webm(tmp_path / "a.webm", clip)
    monkeypatch.setattr(uploads, "MAX_FRAMES", 15)
    with pytest.raises(ValueError, match=r"^The video has more than 15 frames; the limit is 15\.$"):
        uploads.load_upload(tmp_path / "a.webm")


def test_frame_size_limits(tmp_path):
    big = video.write_mp4(tmp_path / "big.mp4", [np.zeros((8, 1030), np.uint8)] * 11, codec="mpeg4")
    with pytest.raises(ValueError, match=r"^The video frames are too large \(8 x 1030\); the limit is 1024"):
        uploads.load_upload(big)
    small = video.write_mp4(tmp_path / "small.mp4", [np.zeros((2, 64), np.uint8)] * 11, codec="mpeg4")
    with pytest.raises(ValueError, match=r"^The video frames are too small \(2 x 64\)"):
        uploads.load_upload(small)


def test_a_video_without_a_video_stream_is_refused(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        samples.sample_rate, samples.pts, samples.time_base = 8000, 0, Fraction(1, 8000)
        out.mux(stream.encode(samples))
        out.mux(stream.encode())
    with pytest.raises(ValueError, match=r"^This MP4 file has no video stream \(only sound\)\.$"):
        uploads.load_upload(path)
