"""Evaluate a set (framepred.serving.evalset): a model and the baselines on an uploaded .npy of
sequences, the worst sequences, and every bad file refused with a message before any model runs."""

import json

import numpy as np
import pytest

from framepred import data, evaluation, inference, metrics
from framepred.serving import evalset, models

N, T = 12, 20  # a small set: 12 sequences of 20 frames (10 context + 10 with ground truth), as MovingMNIST


@pytest.fixture(scope="module")
def seqs() -> np.ndarray:
    """(N, T, 64, 64) uint8 MovingMNIST sequences."""
    return data.generate(data.load_digits("test"), np.random.default_rng(3), N, T, 2, dtype=np.uint8)


def _save(tmp_path, arr, name="set.npy", **kw):
    np.save(tmp_path / name, arr, **kw)
    return str(tmp_path / name)


def test_a_set_is_scored_like_framepred_eval_in_either_layout(app_module, tmp_path, seqs):
    steps = []
    def progress(f, desc):
        steps.append((f, desc))
    result = evalset.evaluate_file(_save(tmp_path, seqs), 5, "default", progress=progress)
    # The same numbers as framepred.evaluation on the served model, in the precision it is served in.
    loaded = models.get_model("default")
    dtype = inference.resolve_dtype(models.precision(next(loaded.model.parameters()).device))
    preds = inference.predict(loaded.model, seqs[:, :10], 5, dtype=dtype)
    expected = evaluation.evaluate(None, seqs, horizon=5, batch_size=evalset.BATCH_SIZE,
                                   predict_fn=lambda c, h: inference.predict(loaded.model, c, h, dtype=dtype))
    for key in evaluation.MODELS:
        for m in ("mse", "ssim", "psnr"):
            np.testing.assert_allclose(result.scores[key][m]["per_frame"], expected[key][m]["per_frame"], rtol=1e-5)
    # The worst sequences: the model's highest MSE, worst first, with their index in the file.
    per_seq = metrics.frame_mse(preds, seqs[:, 10:15] / 255.0, reduce=False).mean(axis=1)
    assert [i for i, _ in result.worst] == list(np.argsort(-per_seq)[: evalset.WORST])
    np.testing.assert_allclose([m for _, m in result.worst], np.sort(per_seq)[::-1][: evalset.WORST], rtol=1e-4)
    # Progress after each batch, up to the whole set.
    assert steps[0][0] == 0 and steps[-1] == (1.0, f"Evaluated {N} of {N} sequences")
    # What the tab shows: a summary, the plot's rows (MSE of the model and both baselines), the table.
    summary, plot, table, worst, picked = result.outputs()
    assert f"**{N} sequences**" in summary and "(N, T, 64, 64)" in summary
    assert sorted(set(plot["series"])) == sorted(["default", "copy last frame", "blank frames"])
    assert len(plot["series"]) == 15
    assert len(table) == 3 * 5 + 3 and table[-3][:2] == ["mean", "default"] and table[0][0] == "t+1"
    assert worst == [[i, round(m, 1)] for i, m in result.worst]
    report = json.loads(json.dumps(result.report()))  # JSON-able
    assert report["sequences"] == N and report["horizon"] == 5 and report["notes"] == []
    assert set(report["metrics"]) == {"default", "copy last frame", "blank frames"}
    # MovingMNIST's own layout (20, N, 64, 64): the same set, the same numbers.
    swapped = evalset.evaluate_file(_save(tmp_path, seqs.swapaxes(0, 1).copy(), "tn.npy"), 5, "default")
    assert swapped.layout == "TNHW" and swapped.worst == result.worst
    assert swapped.scores["model"]["mse"] == result.scores["model"]["mse"]
    # A click on the worst one: that sequence, read again from the file.
    seq = evalset.picked_sequence(picked, 0)
    np.testing.assert_array_equal(seq.frames, seqs[result.worst[0][0]] / np.float32(255))
    assert seq.label == f"evaluated set: sequence {result.worst[0][0]}"


def test_floats_a_long_horizon_and_the_api(app_module, tmp_path, seqs):
    floats = (seqs / np.float32(255))[:3]
    result = evalset.evaluate_file(_save(tmp_path, floats), 30, None)  # 10 frames with ground truth
    assert result.horizon == T - 10 and "10 frames with ground truth were scored, not the 30" in result.notes[0]
    report = app_module.API["evaluate_set"]({"path": _save(tmp_path, floats, "f.npy"),
                                           "meta": {"_type": "gradio.FileData"}}, 4)
    assert report["horizon"] == 4 and report["model"] == "default" and len(report["worst_sequences"]) == 3
    assert report["metrics"]["default"]["mse"]["mean"] == pytest.approx(
        np.mean(report["metrics"]["default"]["mse"]["per_frame"]))


def _header_only(tmp_path, shape, dtype="|u1", name="big.npy"):
    """A .npy file that only declares ``shape`` (no data): refused by its header alone."""
    path = tmp_path / name
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return str(path)


BAD_SETS = {
    "one clip": (lambda p: _save(p, np.zeros((20, 64, 64), np.uint8)), r"shape \(20, 64, 64\) \(a single clip"),
    "not 64 x 64": (lambda p: _save(p, np.zeros((3, 20, 32, 32), np.uint8)), r"shape \(3, 20, 32, 32\)"),
    "too few frames": (lambda p: _save(p, np.zeros((3, 10, 64, 64), np.uint8)), "10 frames .*at least 11"),
    "too many sequences": (lambda p: _header_only(p, (1001, 20, 64, 64)), "1001 sequences .*the limit is 1000"),
    "too many, standard layout": (lambda p: _header_only(p, (20, 1001, 64, 64)),
                                  r"1001 sequences \(read as \(T, N, 64, 64\)\); the limit is 1000"),
    "too many frames": (lambda p: _header_only(p, (2, 1001, 64, 64)), "1001 frames .*the limit is 1000"),
    "truncated": (lambda p: _header_only(p, (3, 20, 64, 64)), "truncated"),
    "pickled objects": (lambda p: _save(p, np.array([None, {"a": 1}], dtype=object), allow_pickle=True),
                        "Python object"),
    "int16": (lambda p: _save(p, np.zeros((3, 20, 64, 64), np.int16)), "int16; a set must be uint8"),
    "NaN": (lambda p: _save(p, np.full((2, 12, 64, 64), np.nan, np.float32)), "^The sequences contain NaN"),
    "floats over 1": (lambda p: _save(p, np.full((2, 12, 64, 64), 2.0, np.float32)),
                      r"^Float frames must lie in \[0, 1\]"),
    "a GIF": (lambda p: (p / "x.npy").write_bytes(b"GIF89a" + bytes(40)) and str(p / "x.npy"),
              r"not a NumPy \.npy file \(a single clip"),
    "empty": (lambda p: (p / "x.npy").write_bytes(b"") or str(p / "x.npy"), "empty"),
}


@pytest.mark.parametrize("case", list(BAD_SETS))
def test_bad_sets_are_refused_before_any_model_runs(app_module, tmp_path, case):
    make, message = BAD_SETS[case]
    with pytest.raises(ValueError, match=message):  # the file is checked before the model is even looked up
        evalset.evaluate_file(make(tmp_path), 5, "no-such-model")


def test_a_file_over_the_size_limit_is_refused_unread(app_module, tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        f.truncate(evalset.uploads.MAX_FILE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(ValueError, match="too large .*the limit is 50 MiB"):
        evalset.evaluate_file(str(path), 5)


def test_a_click_needs_an_evaluated_set(tmp_path, seqs):
    with pytest.raises(ValueError, match="Evaluate a set first"):
        evalset.picked_sequence(None, 0)
    picked = {"path": _save(tmp_path, seqs), "indices": [3, 1]}
    assert evalset.picked_sequence(picked, 1).label == "evaluated set: sequence 1"
    with pytest.raises(ValueError, match="Row must be a whole number from 0 to 1"):
        evalset.picked_sequence(picked, 2)
    (tmp_path / "set.npy").unlink()
    with pytest.raises(ValueError, match="could not be found"):
        evalset.picked_sequence(picked, 0)


class _Marks:
    """Unpickling this creates a file: proof that a pickle ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_set_never_runs(app_module, tmp_path):
    control, marker = tmp_path / "control-marker", tmp_path / "server-marker"
    np.save(tmp_path / "live.npy", np.array([_Marks(str(control))] * 4, dtype=object), allow_pickle=True)
    np.load(tmp_path / "live.npy", allow_pickle=True)  # the payload is live: unpickling runs the code
    assert control.exists()
    np.save(tmp_path / "evil.npy", np.array([_Marks(str(marker))] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python object"):
        evalset.evaluate_file(str(tmp_path / "evil.npy"), 5)
    with pytest.raises(ValueError, match="Python object"):
        evalset.picked_sequence({"path": str(tmp_path / "evil.npy"), "indices": [0]}, 0)
    assert not marker.exists()
