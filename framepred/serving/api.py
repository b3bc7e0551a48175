"""The demo's public API as typed functions: what ``gradio_client`` and MCP clients call.

``app.py`` registers each function with ``gr.api`` under its own name (so the endpoint is
``/predict_test``, the MCP tool ``predict_test``): the type hints are the endpoint's schema and the
docstring (its ranges filled in from the constants that enforce them) the tool's description, so
they are written for the caller. Every function predicts with the default model (``compare_test``:
two models) and raises ``ValueError`` with a message for the caller; the app turns it into ``gr.Error``.

Files travel as Gradio's file payload (:class:`File`): ``gradio_client`` uploads a file given with
``handle_file(path)`` and downloads a returned one to a local path; an MCP client passes a URL. A file
argument arrives as that payload, and only once Gradio has checked that it was uploaded to this app;
anything else (a path as text, a number, a payload without Gradio's mark) is refused, so that no call
can make the app read a file of the server's own. The file's content decides how it is read
(:mod:`framepred.uploads`), not its name.

(No ``from __future__ import annotations`` here: ``gr.api`` reads the return annotations as they
are, and a string would make each result one untyped value.)
"""

from pathlib import Path
from typing import Literal, TypedDict

from .. import sketch, uploads
from . import evalset, pipeline, sources, validate

DEFAULT_HORIZON = validate.DEFAULT_HORIZON


class FileMeta(TypedDict):
    _type: Literal["gradio.FileData"]


class File(TypedDict):
    """Gradio's file payload (``gradio.FileData`` as JSON; its ``meta`` marks it as a file for Gradio,
    ``gradio_client`` and MCP): the file's path on the server."""

    path: str
    meta: FileMeta


FILE_META: FileMeta = {"_type": "gradio.FileData"}


def as_file(path: str | Path) -> File:
    """A file as Gradio's payload: a result (Gradio copies it into its cache and serves it), or an
    argument when the API is called in-process."""
    return {"path": str(path), "meta": dict(FILE_META)}


def _path(payload, name: str) -> str | None:
    """A file argument's server path: only from Gradio's file payload (which Gradio accepts only for a
    file uploaded to this app), never a path given as text, which would read the server's own files.
    None (no file) is passed on for the source to say what is missing."""
    if payload is None:
        return None
    if isinstance(payload, dict) and payload.get("meta") == FILE_META and isinstance(payload.get("path"), str):
        return payload["path"]
    raise ValueError(f"{name} must be uploaded to this app (gradio_client: handle_file(path); MCP: a URL), "
                     f"got {validate.shown(payload)}.")


# The ranges the docstrings state, from the constants that enforce them.
RANGES = {"max_index": sources.test_set_size() - 1, "max_seed": validate.MAX_SEED,
          "digits": f"{validate.N_DIGITS_MIN} to {validate.N_DIGITS_MAX}",
          "speed": f"{validate.SPEED_MIN:g} to {validate.SPEED_MAX:g}",
          "frames": f"{uploads.MIN_FRAMES} to {uploads.MAX_FRAMES}",
          "sides": f"{uploads.MIN_SIDE} to {uploads.MAX_SIDE}",
          "mib": uploads.MAX_FILE_BYTES // 2**20, "drawing_side": sketch.MAX_SIDE,
          "max_sequences": evalset.MAX_SEQUENCES, "worst": evalset.WORST,
          "horizon": "how many frames to predict after the 10 context frames, a whole number from 1 to "
                     f"{validate.MAX_HORIZON}",
          "returns": "An animated GIF (ground truth | prediction | |error|), the prediction as a .npy file (float32, "
                     "shape (horizon, 64, 64), values 0..1), and the metrics as JSON"}


def _documented(fn):
    """``fn`` with its docstring's ranges filled in (agents read it: the MCP tool's description)."""
    fn.__doc__ = fn.__doc__.format(**RANGES)
    return fn


def _predict(source: sources.Source, horizon) -> tuple[File, File, dict]:
    result = pipeline.predict(source, horizon, media=False)  # no MP4 or strips: the API returns neither
    return as_file(result.gif), as_file(result.runs[0].npy), result.report()


@_documented
def predict_test(index: int = 0, horizon: int = DEFAULT_HORIZON) -> tuple[File, File, dict]:
    """Predict the next frames of a held-out Moving MNIST test sequence (20 frames: 10 of context,
    10 of ground truth) with the default ConvLSTM model.

    Args:
        index: which test sequence, a whole number from 0 to {max_index}.
        horizon: {horizon}.
    Returns:
        An animated GIF (ground truth | prediction | |error|), the prediction as a .npy file (float32, shape (horizon, 64, 64), values 0..1), and the metrics as JSON (MSE, MAE, SSIM, PSNR per frame and mean, against the copy-last-frame baseline).
    """
    return _predict(sources.test(index), horizon)


@_documented
def predict_generated(seed: int = 0, n_digits: int = 2, speed: float = 1.0,
                      horizon: int = DEFAULT_HORIZON) -> tuple[File, File, dict]:
    """Generate a new Moving MNIST sequence (held-out digits bouncing in a 64 x 64 frame) and predict
    its next frames with the default ConvLSTM model. The same seed gives the same sequence.

    Args:
        seed: random seed of the generator, a whole number from 0 to {max_seed}.
        n_digits: how many digits move in the frame, a whole number from {digits}.
        speed: how fast the digits move, a number from {speed} (1 = the standard Moving MNIST speed).
        horizon: {horizon}.
    Returns:
        {returns}.
    """
    return _predict(sources.generated(seed, n_digits, speed), horizon)


@_documented
def predict_upload(file: File, horizon: int = DEFAULT_HORIZON) -> tuple[File, File, dict]:
    """Predict the next frames of an uploaded clip with the default ConvLSTM model: the first 10 frames
    are the context, the frames after them (if any) the ground truth.

    Args:
        file: a .npy array (T, H, W) or (T, H, W, C), uint8 0..255 or floats 0..1, an animated .gif, or an .mp4 / .webm video; {frames} frames, frames {sides} pixels a side, at most {mib} MiB. Frames become grey 64 x 64; a light background is inverted.
        horizon: {horizon}.
    Returns:
        {returns}.
    """
    return _predict(sources.uploaded(_path(file, "The file")), horizon)


@_documented
def predict_drawn(image: File, angle: float = 0.0, speed: float = 1.0,
                  horizon: int = DEFAULT_HORIZON) -> tuple[File, File, dict]:
    """Make a drawn digit bounce through a 64 x 64 frame in a chosen direction and predict its next
    frames with the default ConvLSTM model.

    Args:
        image: a picture of one digit (PNG or another image file, up to {drawing_side} pixels a side); light strokes on dark or dark strokes on light.
        angle: the direction of motion in degrees, a number from 0 to 360 (0 = to the right, 90 = up).
        speed: how fast the digit moves, a number from {speed} (1 = the standard Moving MNIST speed).
        horizon: {horizon}.
    Returns:
        {returns}.
    """
    return _predict(sources.drawn(_path(image, "The drawing"), angle, speed), horizon)


@_documented
def compare_test(index: int = 0, horizon: int = DEFAULT_HORIZON, model_a: str | None = None,
                 model_b: str | None = None) -> tuple[File, dict]:
    """Compare two models on one held-out Moving MNIST test sequence.

    Args:
        index: which test sequence, a whole number from 0 to {max_index}.
        horizon: {horizon}.
        model_a: the first model's name, or empty / None for the default model.
        model_b: the second model's name, or empty / None for the first other model available.
    Returns:
        An animated GIF (ground truth | model A | |error A| | model B | |error B|) and the metrics as JSON, with a "models" list holding each model's metrics.
    """
    result = pipeline.compare(sources.test(index), horizon, model_a, model_b, media=False)
    return as_file(result.gif), result.report()


@_documented
def evaluate_set(file: File, horizon: int = DEFAULT_HORIZON) -> dict:
    """Evaluate the default ConvLSTM model on a set of Moving MNIST-like sequences, against two
    baselines (copy the last context frame; blank frames): each predicts the frames after the first 10
    of every sequence, and the metrics per frame are averaged over the set.

    Args:
        file: a .npy array of sequences, shape (N, T, 64, 64) or (20, N, 64, 64) (as mnist_test_seq.npy), uint8 0..255 or floats 0..1; N from 1 to {max_sequences}, T at least 11 frames, at most {mib} MiB.
        horizon: {horizon}; at most the T - 10 frames with ground truth are scored (a longer horizon is shortened, with a note).
    Returns:
        JSON: for the model and each baseline, MSE, MAE, SSIM and PSNR per predicted frame and their mean; the {worst} worst sequences (the model's highest MSE: index in the file, MSE); the number of sequences, the horizon, notes and units.
    """
    return evalset.evaluate_file(_path(file, "The set"), horizon).report()


ENDPOINTS = (predict_test, predict_generated, predict_upload, predict_drawn, compare_test, evaluate_set)
