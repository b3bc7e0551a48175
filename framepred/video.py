"""Video files with PyAV (FFmpeg's libraries): read an MP4 / WebM clip as the frames the model reads,
write the side-by-side animation as an MP4.

Reading applies the limits of :mod:`framepred.uploads` (file size, frame size, frame count, pixels
decoded) with its messages, each checked as early as the file allows: the frame size and (MP4) the
frame count from the headers before any frame is decoded, the rest while demuxing. Only the frames
in use are decoded, one at a time. A file cut short is refused by what its header promised (MP4: the
frame count; WebM: the duration). Every refusal is a ``ValueError`` saying what is wrong.

Writing encodes H.264 (libx264) where PyAV's FFmpeg has it, else MPEG-4 part 2, in yuv420p (the
pixel format every player reads), each frame shown for its own duration as in the GIF; the file is
written whole or not at all.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from . import uploads, viz
from .atomic import atomic_path
from .data import CONTEXT

DEMUXERS = {"mp4": "mp4", "webm": "matroska"}  # the only demuxer FFmpeg may use for each kind
LABELS = {"mp4": "MP4", "webm": "WebM"}
TRUNCATION_SLACK = 2  # a WebM whose frames end this many frame durations before its header's end is cut short
MS = Fraction(1, 1000)  # the time base of written frames: durations in milliseconds
H264_CRF = "18"  # x264's constant quality: visually lossless for these flat grey frames
# x264's fastest preset: the app writes an MP4 with every prediction, and on these small, flat frames
# "ultrafast" encodes ~3x faster than the default ("medium") at the same quality, the file ~1.6x larger
# (~40 KB for 20 frames).
H264_PRESET = "ultrafast"
MPEG4_BIT_RATE = 2_000_000  # the fallback encoder's rate (bits/s); its default (200 kbit/s) smears


class _Refused(ValueError):
    """A refusal with its final message (not to be wrapped as a decoding failure)."""


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------
def read_video(path: str | os.PathLike, max_used_frames: int | None = None) -> np.ndarray:
    """An MP4 or WebM file -> float32 ``(T, 64, 64)`` grey in [0, 1] (as :func:`uploads.load_upload`).

    The whole file is demuxed (frames counted, truncation detected); with ``max_used_frames`` only
    the first frames (never fewer than ``MIN_FRAMES``) are decoded and returned.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError("The video file could not be found.")
    uploads._check_file_size(path)
    with open(path, "rb") as f:
        kind = uploads.video_kind(f.read(12))
    if kind is None:
        raise ValueError(f"This file is not an MP4 or WebM video (its first bytes are not a video header); "
                         f"expected {uploads.ACCEPTED}.")
    label = LABELS[kind]
    try:
        return _decode(path, kind, max_used_frames)
    except _Refused:
        raise
    except Exception as e:  # FFmpeg reports broken data as several types (InvalidDataError, EOFError, OSError...)
        raise ValueError(f"This {label} video cannot be decoded: the file looks damaged or truncated "
                         f"({_reason(e, path)}).") from None


def _decode(path: Path, kind: str, max_used_frames: int | None) -> np.ndarray:
    label = LABELS[kind]
    with av.open(str(path), format=DEMUXERS[kind], metadata_errors="ignore") as container:
        if not container.streams.video:
            if container.streams.audio:
                raise _Refused(f"This {label} file has no video stream (only sound).")
            # (a file cut inside its header lists no stream, or one without a codec)
            raise _Refused(f"This {label} video cannot be decoded: the file looks damaged or truncated "
                           "(no video stream found).")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise _Refused(f"This {label} video cannot be decoded: its header gives no frame size (damaged file).")
        _check_side(height, width)
        declared = int(stream.frames or 0)  # MP4 headers count the frames; WebM's do not (0)
        if declared > uploads.MAX_FRAMES:
            raise _Refused(f"The video has {declared} frames; the limit is {uploads.MAX_FRAMES}.")
        if 0 < declared < uploads.MIN_FRAMES:
            raise _Refused(_few(declared))
        cap = uploads.MAX_FRAMES if max_used_frames is None else max(int(max_used_frames), uploads.MIN_FRAMES)
        if declared and min(declared, cap) * width * height > uploads.MAX_TOTAL_PIXELS:
            raise _Refused(_too_many_pixels(min(declared, cap), height, width))
        frames: list[np.ndarray] = []
        packets, pixels, end = 0, 0, None  # end: where the last frame stops, in the stream's time base
        for packet in container.demux(stream):
            if packet.size:  # (the last packet is empty: it flushes the decoder)
                packets += 1
                if packets > uploads.MAX_FRAMES:
                    raise _Refused(f"The video has more than {uploads.MAX_FRAMES} frames; "
                                   f"the limit is {uploads.MAX_FRAMES}.")
                if packet.pts is not None:
                    end = max(end or 0, packet.pts + (packet.duration or 0))
            if len(frames) >= cap:
                continue  # counted, not decoded
            for frame in packet.decode():
                if len(frames) >= cap:
                    break
                _check_side(frame.height, frame.width)  # the size may change within a stream
                pixels += frame.width * frame.height
                if pixels > uploads.MAX_TOTAL_PIXELS:
                    raise _Refused(_too_many_pixels(len(frames) + 1, frame.height, frame.width))
                rgb = frame.to_ndarray(format="rgb24").astype(np.float32) / np.float32(255)  # (H, W, 3)
                frames.append(uploads._resize(uploads._grey(rgb)))
        if declared > packets:
            raise _Refused(f"This {label} video is truncated: its header declares {declared} frames, "
                           f"the file holds {packets}.")
        _check_duration(container, stream, end, packets, label)
    if packets < uploads.MIN_FRAMES:
        raise _Refused(_few(packets))
    if len(frames) < uploads.MIN_FRAMES:
        raise _Refused(f"This {label} video cannot be decoded: only {len(frames)} of its {packets} frames "
                       "decode (damaged file).")
    return np.stack(frames)


def _check_duration(container, stream, end: int | None, packets: int, label: str) -> None:
    """Refuse a file whose frames stop well before the duration its header declares (a WebM cut short:
    its header has no frame count). Only the video stream's own duration, or the file's when the video
    is its only stream (an audio track may run longer)."""
    if stream.time_base is None or (packets and end is None):  # no timestamps: nothing to compare
        return
    ends_at = float((end or 0) * stream.time_base)
    if stream.duration:
        declared = float(stream.duration * stream.time_base)
    elif container.duration and len(container.streams) == 1:
        declared = container.duration / av.time_base
    else:
        return
    if not packets and declared > 0:
        raise _Refused(f"This {label} video is truncated: its header declares {declared:.2f} s, "
                       "the file holds no frames.")
    if packets and declared - ends_at > TRUNCATION_SLACK * ends_at / packets:
        raise _Refused(f"This {label} video is truncated: its header declares {declared:.2f} s, "
                       f"the frames in the file end at {ends_at:.2f} s.")


def _check_side(height: int, width: int) -> None:
    if width > uploads.MAX_SIDE or height > uploads.MAX_SIDE:
        raise _Refused(str(uploads._too_large("video frames", height, width)))
    if width < uploads.MIN_SIDE or height < uploads.MIN_SIDE:
        raise _Refused(str(uploads._too_small("video frames", height, width)))


def _few(n: int) -> str:
    return (f"The video has {n} frame{'s' if n != 1 else ''}; at least {uploads.MIN_FRAMES} are needed "
            f"({CONTEXT} context frames + 1 to predict).")


def _too_many_pixels(n: int, height: int, width: int) -> str:
    return (f"The video is too large to decode ({n} frames of {height} x {width}); use fewer or smaller "
            f"frames (at most {uploads.MAX_TOTAL_PIXELS:,} pixels in all).")


def _reason(error: BaseException, path: Path) -> str:
    """One bounded line naming the failure, without the file's folder (never show server paths)."""
    text = getattr(error, "strerror", None) or str(error)
    text = " ".join(str(text).replace(str(path), path.name).split())[:200]
    return f"{type(error).__name__}: {text}"


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def encoder() -> str:
    """``"libx264"`` (H.264) where PyAV's FFmpeg can encode it, else ``"mpeg4"`` (always built in)."""
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # UnknownCodecError, or an FFmpeg built without it
        return "mpeg4"
    return "libx264"


def write_mp4(path: str | os.PathLike, frames: Sequence[np.ndarray], durations_ms: Sequence[int] | int = 160,
              codec: str | None = None) -> str:
    """Write RGB ``(H, W, 3)`` (or grey ``(H, W)``) uint8 frames as an MP4, whole or not at all.

    Each frame shows for its entry of ``durations_ms`` (one number: all alike). Odd sides are padded by
    repeating the last row / column (yuv420p halves the colour resolution, so sides must be even).
    ``codec``: an FFmpeg encoder name; default :func:`encoder`.
    """
    frames = [_rgb(f) for f in frames]
    if not frames:
        raise ValueError("no frames to write")
    if len({f.shape for f in frames}) > 1:
        raise ValueError(f"frames differ in size: {sorted({f.shape for f in frames})}")
    durations = [int(durations_ms)] * len(frames) if np.isscalar(durations_ms) else [int(d) for d in durations_ms]
    if len(durations) != len(frames) or min(durations) < 1:
        raise ValueError("durations_ms needs one positive duration per frame")
    codec = codec or encoder()
    height, width = frames[0].shape[:2]
    even = (height + height % 2, width + width % 2)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream(codec, rate=Fraction(1000, durations[0]),
                                    options={"crf": H264_CRF, "preset": H264_PRESET} if codec == "libx264" else {})
            stream.width, stream.height, stream.pix_fmt = even[1], even[0], "yuv420p"
            stream.codec_context.time_base = MS
            if codec != "libx264":
                stream.bit_rate = MPEG4_BIT_RATE
            pts = 0
            for image, ms in zip(frames, durations):
                if image.shape[:2] != even:
                    image = np.pad(image, ((0, even[0] - height), (0, even[1] - width), (0, 0)), mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts, frame.time_base = pts, MS
                out.mux(stream.encode(frame))
                pts += ms
            out.mux(stream.encode())  # flush the encoder's delayed frames
    return str(path)


def _rgb(frame: np.ndarray) -> np.ndarray:
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"frames must be (H, W) or (H, W, 3), got {a.shape}")
    return a


def save_sequence_mp4(path: str | os.PathLike, context: np.ndarray, truth: np.ndarray | None,
                      pred: viz.Predictions, scale: int = viz.GIF_SCALE, frame_ms: int = 160,
                      hold_ms: int = 1200) -> str:
    """The animation of :func:`framepred.viz.save_sequence_gif` (same panels, same timing) as an MP4:
    one video frame per context and predicted step."""
    images = [np.asarray(im.convert("RGB")) for im in viz.sequence_gif_frames(context, truth, pred, scale)]
    return write_mp4(path, images, viz.frame_durations(len(context), len(images), frame_ms, hold_ms))
