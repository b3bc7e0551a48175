"""The prepared GPU run (train/gpu_run.py), on the CPU: its device generator draws framepred.data's
frames, its validation is train.py's, and a tiny run writes loadable outputs within the device's
return limits on a machine with only torch, numpy and safetensors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from framepred import data as fdata
from framepred.inference import load_model, predict
from framepred.metrics import frame_mse
from train import curve, gpu_data, gpu_run, resume_state

REPO = Path(__file__).resolve().parent.parent
RETURN_FILES, RETURN_FILE_BYTES, RETURN_BYTES = 8, 16 * 2**20, 64 * 2**20  # the device run's return limits


@pytest.fixture(scope="module")
def digits():
    return fdata.load_digits("train")


@pytest.mark.parametrize("stream", ["bar", "mixed", "standard"])
def test_device_generator_makes_framepred_data_frames_from_the_same_draws(digits, stream):
    n = 24
    rng = np.random.default_rng(11)
    settings = {"bar": lambda: fdata.draw_bar_settings(rng, n), "mixed": lambda: fdata.draw_settings(rng, n),
                "standard": lambda: {"n_digits": 2, "speed": 1.0}}[stream]()
    state = rng.bit_generator.state
    expected = fdata.generate(digits, rng, n, fdata.SEQ_LEN, **settings)
    # The numbers generate draws, in its order: the trajectories' starts and directions, then the digits.
    rng.bit_generator.state = state
    counts = np.broadcast_to(np.asarray(settings["n_digits"]), (n,))
    k = int(counts.max())
    pos0 = rng.random((n * k, 2))
    theta = rng.random(n * k) * 2 * np.pi
    which = rng.integers(0, len(digits), size=(n, k))
    speed = np.broadcast_to(np.asarray(settings["speed"], np.float64), (n, 3))  # render uses the first k
    phase = np.broadcast_to(np.asarray(settings.get("phase", 0.0), np.float64), (n, 2))
    draws = gpu_data.Draws(*(torch.from_numpy(np.array(a)) for a in (pos0, theta, which, counts, speed, phase)))
    got = gpu_data.render(torch.from_numpy(digits.copy()), draws)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert torch.equal(got, torch.from_numpy(expected))  # bit for bit


def test_device_draws_follow_the_streams_rules(digits):
    gen = torch.Generator().manual_seed(0)
    n = 20_000
    d = gpu_data.draw(gen, n, len(digits), "bar")
    counts, speed, phase = d.n_digits.numpy(), d.speed.numpy(), d.phase.numpy()
    standard = (counts == 2) & (speed[:, :2] == 1.0).all(axis=1) & (phase == 0).all(axis=1)
    same = ~standard & (speed == speed[:, :1]).all(axis=1)
    assert abs(standard.mean() - fdata.BAR_STANDARD_FRACTION) < 0.015
    assert abs(same.mean() - fdata.BAR_SAME_SPEED_FRACTION) < 0.015
    lo, hi = fdata.SAME_SPEED_RANGE
    assert (speed[same] >= lo).all() and (speed[same] <= hi).all() and (phase[same] == 0).all()
    assert set(counts[same]) == {1, 2, 3} and (phase[~standard & ~same] > 0).all()
    mixed = gpu_data.draw(gen, n, len(digits), "mixed")
    assert abs((mixed.speed == 1.0).all(dim=1).float().mean() - fdata.MIXED_STANDARD_FRACTION) < 0.015
    assert mixed.speed.min() >= fdata.SPEED_RANGE[0] and mixed.speed.max() <= fdata.SPEED_RANGE[1]
    shifted = gpu_data.draw(gen, n, len(digits), "bar", shifted_fraction=0.5)
    motion = (shifted.speed == shifted.speed[:, :1]).all(dim=1)
    off_grid = (shifted.phase > 0).all(dim=1)
    assert abs(off_grid[motion].double().mean() - 0.5) < 0.02 and off_grid[~motion].all()
    fast = gpu_data.draw(gen, n, len(digits), "bar", same_speed_fraction=0.5, same_speed_range=(2.0, 3.0))
    one = (fast.speed == fast.speed[:, :1]).all(dim=1) & (fast.speed[:, 0] != 1.0)  # the same-speed share
    assert abs(one.double().mean() - 0.5) < 0.02  # (a mixed sequence's 3 speeds almost never coincide)
    assert fast.speed[one].min() >= 2.0 and fast.speed[one].max() <= 3.0
    seqs = gpu_data.batch(torch.from_numpy(digits.copy()), gen, 5, "standard")
    assert seqs.shape == (5, fdata.SEQ_LEN, 1, 64, 64) and 0 <= seqs.min() and seqs.max() <= 1
    with pytest.raises(ValueError, match="mix must be"):
        gpu_data.draw(gen, 2, 10, "fast")


def test_validation_is_train_py_s(tiny_model_dir, tmp_path):
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from train import train as train_script

    model = load_model(tiny_model_dir, device="cpu")
    module = train_script.FramePredModule(model.config.to_dict(), ema_decay=0.999, val_standard=2, val_reach=3)
    module.model.load_state_dict(model.state_dict())
    module.reset_ema()
    dm = train_script.MovingMNISTDataModule(val_size=6, val_batch_size=4)
    trainer = L.Trainer(accelerator="cpu", logger=CSVLogger(tmp_path), enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    logged = trainer.validate(module, datamodule=dm, verbose=False)[0]
    ours = gpu_run.validate(model, torch.device("cpu"), val_size=6, val_reach=3, batch=4)
    for key in ("mse", "mae", "ssim", "mse_standard", "ssim_standard", "mse_mixed", "mixed_vs_blank",
                "reach_s3_t1", "reach_s3"):
        assert ours[key] == pytest.approx(logged[f"val/{key}"], rel=1e-5), key
    assert gpu_run.ema_decay_at(3, 0.999) == train_script.ema_decay_at(3, 0.999)
    # Beyond train.py: the standard third half a pixel over, the bar's half-pixel check on validation.
    shifted = torch.from_numpy(fdata.to_unit_float(fdata.validation_shifted(6))[:, :, None])  # (2, 20, 1, 64, 64)
    with torch.no_grad():
        pred = model(shifted[:, :10], 10).numpy()[:, :, 0]
    direct = float(frame_mse(pred, shifted[:, 10:, 0].numpy()).mean())
    assert ours["mse_standard_shifted"] == pytest.approx(direct, rel=1e-5)
    assert ours["half_pixel_change"] == pytest.approx(ours["mse_standard_shifted"] / ours["mse_standard"] - 1)
    # and the reach test with 3 digits: the bar's speed-3 cell on the reach test's own seed.
    three = torch.from_numpy(fdata.to_unit_float(fdata.reach_set(3, n_digits=3))[:, :, None])  # (3, 20, 1, 64, 64)
    with torch.no_grad():
        pred = model(three[:, :10], 10)
    target = three[:, 10:]
    assert ours["reach_s3_d3"] == pytest.approx(float(((pred - target) ** 2).sum() / (target**2).sum()), rel=1e-5)


def test_step_schedule_trains_exactly_the_steps_asked_on_the_shifted_stream(tiny_model_dir, tmp_path):
    metrics = gpu_run.main(["--preset", "tiny", "--device", "cpu", "--minutes", "0.001", "--steps", "6",
                            "--shifted-fraction", "0.5", "--timing-reps", "0", "--init", str(tiny_model_dir),
                            "--out", str(tmp_path)])
    assert metrics["steps"] == 6 and metrics["schedule"]["steps"] == 6  # the clock (0.001 min) does not stop it
    assert "timing" not in metrics and "agreement" not in metrics  # --timing-reps 0: a CPU branch times nothing
    assert [v["step"] - metrics["init"]["global_step"] for v in metrics["validations"]] == [0, 3, 6]
    assert metrics["data"]["shifted_fraction"] == 0.5 and metrics["data"]["same_speed_range"] == [0.5, 3.0]
    table = curve.branch_table(tmp_path / "metrics.json")  # the branch table reads the run's validations
    assert list(table["when"]) == ["start", "middle", "end"] and table["half-pixel"].notna().all()
    assert table["val MSE"].iloc[-1] == pytest.approx(metrics["validations"][-1]["ema"]["mse"])
    text = curve.markdown(table)
    assert text.count("\n") == 4 and text.startswith("| run | when | step | val MSE |")
    assert "nan" not in curve.markdown(table.assign(**{"val MSE": float("nan")}))  # a figure the run lacks
    lrs = [c["lr"] for c in metrics["curve"]]
    assert len(lrs) == 3 and lrs[-1] < lrs[0]  # the cooldown's cosine ends the run
    for bad in (["--data", "mixed", "--shifted-fraction", "0.5"], ["--same-speed-range", "3", "2"],
                ["--same-speed-fraction", "0.7"], ["--predicted-weight", "0"]):
        with pytest.raises(SystemExit):
            gpu_run.parse_args(["--out", str(tmp_path), *bad])
    fast = gpu_run.parse_args(["--out", str(tmp_path), "--same-speed-range", "1.5", "3"])
    assert fast.same_speed_range == (1.5, 3.0)
    assert gpu_run.stream_record("bar", 0.5, 0.35, fast.same_speed_range)["same_speed_range"] == [1.5, 3.0]


def test_predicted_weight_moves_the_loss_to_the_frames_the_metrics_score():
    torch.manual_seed(0)
    target = torch.rand(2, 19, 1, 8, 8)  # (B, T, C, H, W): 9 context next-frame predictions, then 10 predicted
    pred = target.clone()
    assert gpu_run.frame_loss(pred + 0.1, target, 10, 1.0) == pytest.approx(0.01)  # plain MSE
    ctx_err, fut_err = pred.clone(), pred.clone()
    ctx_err[:, :9] += 0.1
    fut_err[:, 9:] += 0.1
    plain = [gpu_run.frame_loss(x, target, 10, 1.0).item() for x in (ctx_err, fut_err)]
    weighted = [gpu_run.frame_loss(x, target, 10, 3.0).item() for x in (ctx_err, fut_err)]
    assert plain == pytest.approx([0.01 * 9 / 19, 0.01 * 10 / 19])
    # weights 1 x 9 and 3 x 10 averaging 1: the context's error counts 19/39 as much, the predicted 57/39
    assert weighted == pytest.approx([0.01 * 9 / 39, 0.01 * 30 / 39])
    assert sum(weighted) == pytest.approx(gpu_run.frame_loss(pred + 0.1, target, 10, 3.0).item())  # same total


# What the device machine lacks: importing any of them fails in the run below.
ABSENT = ("gradio", "huggingface_hub", "lightning", "pandas", "PIL", "matplotlib", "scipy", "skimage")


def test_tiny_run_on_cpu_writes_loadable_outputs_within_the_return_limits(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    args = ["--preset", "tiny", "--device", "cpu", "--minutes", "0.05", "--min-steps", "4", "--save-every", "0",
            "--init", str(tiny_model_dir), "--out", str(out)]
    code = (f"import sys, runpy; sys.modules.update(dict.fromkeys({ABSENT!r})); "
            f"sys.argv = ['gpu_run.py', *{args!r}]; runpy.run_path('train/gpu_run.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]

    files = sorted(p for p in out.rglob("*"))
    assert all(p.is_file() for p in files) and len(files) <= RETURN_FILES  # one folder, no leftovers
    assert {p.name for p in files} == {"model.safetensors", "model-low.safetensors", "delta.safetensors",
                                       "config.json", "manifest.json", "metrics.json", "log.txt"}
    sizes = [p.stat().st_size for p in files]
    assert max(sizes) <= RETURN_FILE_BYTES and sum(sizes) <= RETURN_BYTES

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] and metrics["steps"] >= 4 and metrics["data"]["mix"] == "bar"
    assert [v["when"] for v in metrics["validations"]] == ["start", "middle", "end"]
    assert all(np.isfinite(c["loss"]) for c in metrics["curve"]) and metrics["curve"]
    assert set(metrics["timing"]) == {"float32", "bfloat16"} and metrics["agreement"]["agree"]
    end = metrics["validations"][-1]
    # The learning curve reads the run as train.py's log: its loss readings and its later validations.
    logs = curve.load_logs(out / "metrics.json")
    assert list(curve.val_table(logs)["step"]) == [v["step"] for v in metrics["validations"][1:]]
    assert logs["train/loss"].notna().sum() == len(metrics["curve"])

    # framepred's loader reads the folder (the EMA in bf16); the export is the float32 EMA exactly.
    ema, raw, _, manifest = resume_state.read_compact(out)
    assert manifest["global_step"] == metrics["steps"] and manifest["val_mse"] == end["ema"]["mse"]
    loaded = load_model(out, device="cpu")
    exported = load_model(resume_state.export_compact(out, tmp_path / "export"), device="cpu")
    for k, v in exported.state_dict().items():
        # the bf16 copy rounds to nearest (an exact tie away from zero, where torch's rounds to even)
        low = loaded.state_dict()[k]
        assert torch.equal(v, ema[k]) and torch.equal(low, resume_state.split_fp32(v)[0].float())
        assert torch.allclose(low, v.to(torch.bfloat16).float(), rtol=2**-7, atol=0)  # within a bf16 unit
    ctx = fdata.to_unit_float(fdata.validation_set(6)[:2, :10])
    assert np.abs(predict(loaded, ctx, 10) - predict(exported, ctx, 10)).max() < 0.05

    # A second run starts from the first's output (a compact state) and reproduces its last validation.
    again = gpu_run.main(["--preset", "tiny", "--device", "cpu", "--minutes", "0.01", "--min-steps", "1",
                          "--init", str(out), "--out", str(tmp_path / "again")])
    assert again["start_check"]["reproduced"] and again["init"]["global_step"] == metrics["steps"]
    assert again["validations"][0]["ema"] == pytest.approx(end["ema"], rel=1e-6)
