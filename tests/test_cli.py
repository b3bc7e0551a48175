"""The ``framepred`` command (framepred.cli) on tiny models: predict to every output format, eval with
train/evaluate.py's numbers, and bad input refused with one line on stderr and no output file.

The slow test installs the package into a fresh venv and runs the command as a user types it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from framepred import cli, data, uploads, video
from framepred.inference import load_model, predict
from train import evaluate as evaluate_script

REPO = Path(__file__).resolve().parent.parent
GIF = REPO / "examples" / "two_digits.gif"  # 20 frames


@pytest.fixture
def checkpoints(app_checkpoints, monkeypatch) -> Path:
    """A checkpoints folder whose ``default`` is a tiny untrained model (conftest)."""
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(app_checkpoints))
    monkeypatch.delenv("FRAMEPRED_MODEL", raising=False)
    return app_checkpoints


def _mp4_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


# -- predict -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".gif", ".mp4", ".png", ".npy"])
def test_predict_writes_the_format_its_extension_names(tmp_path, checkpoints, capsys, suffix):
    out = tmp_path / f"out{suffix}"
    assert cli.main(["predict", str(GIF), str(out), "--horizon", "12"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "model default" in printed
    assert "over the 10 frames with ground truth: MSE" in printed  # the GIF has 20 frames: 10 to compare
    if suffix == ".gif":
        with Image.open(out) as im:
            assert im.n_frames == 10 + 12
    elif suffix == ".mp4":
        assert _mp4_frames(out) == 10 + 12
    elif suffix == ".png":
        with Image.open(out) as im:  # two rows (context + truth / prediction) of 22 frames, 2 px apart
            assert im.mode == "L" and im.size == (22 * 66 - 2, 2 * 66 - 2)
    else:
        frames, _ = uploads.normalise_polarity(uploads.load_upload(GIF, max_used_frames=22))
        expected = predict(load_model(checkpoints / "default", "cpu"), frames[:10], 12)
        np.testing.assert_array_equal(np.load(out), expected)


def test_predict_reads_mp4_and_webm(tmp_path, checkpoints):
    clip = data.test_set(1)[0]
    video.write_mp4(tmp_path / "in.mp4", list(clip))
    with av.open(str(tmp_path / "in.webm"), "w", format="webm") as f:
        stream = f.add_stream("libvpx-vp9", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for frame in clip:
            f.mux(stream.encode(av.VideoFrame.from_ndarray(np.repeat(frame[:, :, None], 3, 2), format="rgb24")))
        f.mux(stream.encode())
    for name in ("in.mp4", "in.webm"):
        assert cli.main(["predict", str(tmp_path / name), str(tmp_path / f"{name}.npy"), "--horizon", "3"]) == 0
        assert np.load(tmp_path / f"{name}.npy").shape == (3, 64, 64)


def test_a_named_model_a_folder_and_a_missing_one(tmp_path, checkpoints, tiny_model_dir, capsys):
    assert cli.main(["predict", str(GIF), str(tmp_path / "a.npy"), "--model", "other", "--horizon", "2"]) == 0
    assert cli.main(["predict", str(GIF), str(tmp_path / "b.npy"), "--model", str(tiny_model_dir),
                     "--horizon", "2"]) == 0
    assert not np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))  # other != default
    capsys.readouterr()
    assert cli.main(["predict", str(GIF), str(tmp_path / "c.npy"), "--model", "nope"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "no model 'nope'" in err and "(there: default, other)" in err


# -- eval --------------------------------------------------------------------------------------------
def test_eval_prints_the_numbers_of_train_evaluate(tmp_path, tiny_model_dir, capsys):
    seqs = data.test_set(5)
    std = tmp_path / "mnist_test_seq.npy"
    np.save(std, np.ascontiguousarray(seqs.transpose(1, 0, 2, 3)))  # MovingMNIST's layout (20, N, 64, 64)
    np.save(tmp_path / "nthw.npy", seqs)
    model = ["--model", str(tiny_model_dir), "--batch-size", "2"]  # batches of 2, 2, 1

    assert cli.main(["eval", str(std), *model, "--json", str(tmp_path / "cli.json")]) == 0
    ours = capsys.readouterr()
    assert "5/5" in ours.err  # the progress bar
    evaluate_script.main([*model, "--test-file", str(std), "--json", str(tmp_path / "script.json")])
    theirs = capsys.readouterr().out
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("cli", "script"))
    for name in ("model", "copy_last", "blank"):
        assert a[name] == b[name]  # identical, not close: one computation
    assert a["info"]["sequences"] == 5 and a["info"]["horizon"] == 10
    table = lambda text: text[text.index("| |") : text.index("| MSE ÷ blank |")]  # noqa: E731
    assert table(ours.out) == table(theirs)

    assert cli.main(["eval", str(tmp_path / "nthw.npy"), *model, "--quiet", "--json", str(tmp_path / "n.json")]) == 0
    assert json.loads((tmp_path / "n.json").read_text())["model"] == a["model"]


# -- bad input: one line, exit status 2, nothing written ---------------------------------------------
def _npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _truncated(path: Path) -> Path:
    """``path`` (an MP4 or .npy) cut to 60 % of its length."""
    if path.suffix == ".mp4":
        video.write_mp4(path, list(data.test_set(1)[0]))
    else:
        np.save(path, data.test_set(2))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 6 // 10])
    return path


BAD_PREDICT = {  # name: (make IN in a folder, OUT's name, more arguments, the message expected)
    "wrong shape": (lambda d: _npy(d / "in.npy", np.zeros((20, 64), np.uint8)), "out.mp4", [],
                    r"The array has 2 dimension\(s\) \(20, 64\); expected a \.npy array"),
    "too many frames": (lambda d: _npy(d / "in.npy", np.zeros((1001, 8, 8), np.uint8)), "out.mp4", [],
                        r"The sequence has 1001 frames; the limit is 1000\."),
    "too few frames": (lambda d: _npy(d / "in.npy", np.zeros((10, 64, 64), np.uint8)), "out.mp4", [],
                       r"The sequence has 10 frames; at least 11 are needed"),
    "truncated mp4": (lambda d: _truncated(d / "in.mp4"), "out.mp4", [],
                      r"This MP4 video cannot be decoded: the file looks damaged or truncated"),
    "text named .mp4": (lambda d: _text(d / "in.mp4", "hello\n" * 50), "out.mp4", [],
                        r"Unsupported file type: .* this file is named \.mp4 but its content is not an MP4 video\."),
    "no such file": (lambda d: d / "missing.gif", "out.gif", [], r"'.*missing\.gif': no such file"),
    "horizon": (lambda d: GIF, "out.gif", ["--horizon", "31"],
                r"--horizon must be a whole number from 1 to 30, got 31\."),
    "unknown OUT": (lambda d: GIF, "out.avi", [], r"OUT must end in \.gif, \.mp4, \.png, \.npy"),
    "no folder for OUT": (lambda d: GIF, "nowhere/out.gif", [], r"the folder of OUT .* does not exist"),
}


def _run_bad(capsys, args: list[str]) -> str:
    """Run the command expecting a refusal: exit status 2 and one line on stderr, no traceback."""
    assert cli.main(args) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("framepred: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("case", list(BAD_PREDICT))
def test_bad_predict_input_is_refused_with_a_clear_message(tmp_path, checkpoints, capsys, case):
    make, out_name, extra, message = BAD_PREDICT[case]
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), outputs.mkdir()
    err = _run_bad(capsys, ["predict", str(make(inputs)), str(outputs / out_name), *extra])
    assert re.search(message, err), err
    assert list(outputs.iterdir()) == []  # no output, whole or partial, and no temporary file


def test_no_half_written_output_when_writing_fails(tmp_path, checkpoints, capsys, monkeypatch):
    """An encoder failing mid-file leaves neither OUT nor a temporary file (and an old OUT intact)."""
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")
    monkeypatch.setattr(video, "encoder", lambda: "no-such-encoder")
    assert cli.main(["predict", str(GIF), str(out), "--horizon", "2"]) == cli.EXIT_ERROR
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"] and out.read_bytes() == b"previous"
    assert capsys.readouterr().err.startswith("framepred: error: ")


BAD_EVAL = {  # name: (make DATA in a folder, more arguments, the message expected)
    "one clip": (lambda d: _npy(d / "d.npy", np.zeros((20, 64, 64), np.uint8)), [],
                 r"the array has shape \(20, 64, 64\); eval reads sequences \(N, T, 64, 64\)"),
    "not .npy": (lambda d: _text(d / "d.npy", "a,b\n1,2\n"), [], r"is not a NumPy \.npy file"),
    "truncated": (lambda d: _truncated(d / "d.npy"), [], r"This \.npy file is truncated"),
    "NaN": (lambda d: _npy(d / "d.npy", np.full((2, 20, 64, 64), np.nan, np.float32)), [],
            r"the sequences contain NaN or infinite values"),
    "floats above 1": (lambda d: _npy(d / "d.npy", np.full((2, 20, 64, 64), 255.0, np.float32)), [],
                       r"float frames must lie in \[0, 1\], but values range from 255 to 255"),
    "int64": (lambda d: _npy(d / "d.npy", np.zeros((2, 20, 64, 64), np.int64)), [],
              r"the sequences are int64; eval reads uint8 0\.\.255 or float in \[0, 1\]"),
    "horizon": (lambda d: _npy(d / "d.npy", data.test_set(2)), ["--horizon", "11"],
                r"the sequences have 20 frames: --horizon can be at most 10"),
}


@pytest.mark.parametrize("case", list(BAD_EVAL))
def test_bad_eval_input_is_refused_with_a_clear_message(tmp_path, tiny_model_dir, capsys, case):
    make, extra, message = BAD_EVAL[case]
    err = _run_bad(capsys, ["eval", str(make(tmp_path)), "--model", str(tiny_model_dir), "--json",
                            str(tmp_path / "out.json"), *extra])
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npy"]  # no JSON


def test_the_module_runs_as_a_command_without_a_traceback(tmp_path):
    (tmp_path / "fake.mp4").write_text("not a video\n")
    proc = subprocess.run([sys.executable, "-m", "framepred.cli", "predict", str(tmp_path / "fake.mp4"),
                           str(tmp_path / "out.gif")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("framepred: error: Unsupported file type")
    assert not (tmp_path / "out.gif").exists()


# -- the "done when", as a user runs it -------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_pip_install_then_the_command_writes_a_30_frame_mp4(tmp_path):
    """``pip install .`` into a fresh venv, then ``framepred predict examples/two_digits.gif out.mp4
    --horizon 20`` in a folder with the repository's examples/ and checkpoints/ (as its root has)."""
    src = tmp_path / "src"  # a copy of what the package is built from (see test_wheel.py)
    shutil.copytree(REPO / "framepred", src / "framepred", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", ".", "torch==2.13.0"],
                         capture_output=True, text=True, cwd=src, timeout=1200)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(REPO / "examples", work / "examples")
    shutil.copytree(REPO / "checkpoints" / "default", work / "checkpoints" / "default")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FRAMEPRED_", "PYTHON"))}
    run = subprocess.run([str(env_dir / "bin" / "framepred"), "predict", "examples/two_digits.gif", "out.mp4",
                          "--horizon", "20"], capture_output=True, text=True, cwd=work, env=clean, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _mp4_frames(work / "out.mp4") == 30
    (work / "fake.mp4").write_text("not a video\n")
    bad = subprocess.run([str(env_dir / "bin" / "framepred"), "predict", "fake.mp4", "x.mp4"],
                         capture_output=True, text=True, cwd=work, env=clean, timeout=600)
    assert bad.returncode == 2 and bad.stderr.startswith("framepred: error: Unsupported file type")
    assert "Traceback" not in bad.stderr and not (work / "x.mp4").exists()
