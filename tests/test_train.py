"""Training and evaluation scripts on the tiny preset (CPU, seconds)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from framepred.inference import load_model, predict
from train import evaluate as evaluate_script
from train import train as train_script
from train.curve import load_logs, val_table

REPO = Path(__file__).resolve().parent.parent

QUICK = ["--preset", "tiny", "--val-size", "20", "--no-progress", "--threads", "1", "--lr", "3e-3",
         "--warmup-steps", "5", "--log-every", "1"]


def _metrics(log_dir: str) -> pd.DataFrame:
    return pd.read_csv(Path(log_dir) / "metrics.csv")


@pytest.mark.slow
def test_loss_falls_resume_continues_and_export_loads(tmp_path):
    run = ["--run-dir", str(tmp_path / "runs"), "--export", str(tmp_path / "export"), *QUICK]
    first = train_script.main([*run, "--max-steps", "60", "--val-every", "30"])
    assert first["global_step"] == 60
    loss = _metrics(first["log_dir"])["train/loss"].dropna().to_numpy()
    assert loss[-5:].mean() < 0.7 * loss[:5].mean()  # the loss falls within a few steps
    # (read now: the resumed run writes its own last.ckpt at the same path)
    clocked_before = torch.load(first["last_checkpoint"], map_location="cpu",
                                weights_only=False)["callbacks"]["TrainingClock"]["total_s"]

    # Resume from the last Lightning checkpoint: the step count continues from 60.
    # With --rewarm-steps the learning rate ramps up again from the resumed step instead of jumping.
    second = train_script.main([*run, "--max-steps", "80", "--val-every", "10", "--schedule", "wsd",
                                "--decay-steps", "5", "--rewarm-steps", "10", "--resume", first["last_checkpoint"]])
    assert second["global_step"] == 80
    log = _metrics(second["log_dir"])
    assert log["step"].dropna().min() >= 60
    # Validation is logged with the optimiser step it belongs to, before and after the resume.
    assert _metrics(first["log_dir"])["val/global_step"].dropna().tolist() == [30, 60]
    assert log["val/global_step"].dropna().tolist() == [70, 80]
    # The learning-curve table (model cards) joins both runs at those steps.
    assert val_table(load_logs(tmp_path / "runs" / "tiny"))["step"].tolist() == [30, 60, 70, 80]
    lr = log.dropna(subset=["lr-AdamW"]).set_index("step")["lr-AdamW"]
    assert lr.loc[61] == pytest.approx(3e-3 * 2 / 10) and lr.loc[61] < lr.loc[65] < 3e-3  # the ramp
    assert lr.loc[69:75].to_numpy() == pytest.approx(3e-3)  # the stable level
    assert lr.iloc[-1] < 0.2 * 3e-3  # the wsd decay at the end
    # last.ckpt is the last step's state whether or not the last validation was the best.
    last = torch.load(second["last_checkpoint"], map_location="cpu", weights_only=False)
    assert last["global_step"] == 80
    # The wall time of all phases is carried through the checkpoint.
    assert first["total_wall_time_s"] >= first["wall_time_s"] > 0
    # (both figures are rounded to 0.1 s)
    assert second["total_wall_time_s"] >= clocked_before + second["wall_time_s"] - 0.1

    # The export is the best-by-val checkpoint's EMA weights (what validation scored), in
    # from_pretrained format: same predictions.
    info = json.loads((tmp_path / "export" / "training.json").read_text())
    assert info["total_wall_time_s"] >= info["wall_time_s"] > 0
    assert info["val_mse"] == pytest.approx(min(first["best_val_mse"], second["best_val_mse"]), rel=1e-4)
    best = torch.load(second["best_checkpoint"], map_location="cpu", weights_only=False)
    module = train_script.FramePredModule(**best["hyper_parameters"])
    module.load_state_dict(best["state_dict"])
    exported = load_model(tmp_path / "export", device="cpu")
    ctx = np.random.default_rng(0).random((2, 10, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(predict(module.eval_model.eval(), ctx, 10), predict(exported, ctx, 10))


@pytest.mark.slow
def test_stop_at_ends_a_wsd_run_in_its_stable_phase_and_a_branch_decays_from_there(tmp_path):
    """--stop-at: the run ends at that step at the stable learning rate (the schedule still spans
    --max-steps); resumed with a nearer --max-steps, the branch decays over its last --decay-steps."""
    run = ["--run-dir", str(tmp_path / "runs"), *QUICK, "--schedule", "wsd", "--decay-steps", "10",
           "--val-every", "10"]
    stable = train_script.main([*run, "--max-steps", "1000", "--stop-at", "20"])
    assert stable["global_step"] == 20
    lr = _metrics(stable["log_dir"]).dropna(subset=["lr-AdamW"]).set_index("step")["lr-AdamW"]
    assert lr.iloc[-1] == pytest.approx(3e-3)  # still the stable level: no decay has started
    branch = train_script.main([*run, "--max-steps", "30", "--resume", stable["last_checkpoint"]])
    assert branch["global_step"] == 30
    lr = _metrics(branch["log_dir"]).dropna(subset=["lr-AdamW"]).set_index("step")["lr-AdamW"]
    assert lr.loc[21] == pytest.approx(3e-3, rel=0.05) and lr.iloc[-1] < 0.2 * 3e-3


def test_a_cooldown_branch_replaces_the_stable_curve_from_its_first_step(tmp_path):
    """load_logs(stable, branch): the model card's curve is the path to the shipped branch. The stable
    run's later validations (it went on past the branch point) must not appear beside the branch's."""
    header = "epoch,step,val/global_step,train/loss,val/mse,val/ssim\n"
    for run, rows in {"stable": ["0,499,500,,80.0,0.70", "0,999,1000,,70.0,0.74", "0,1499,1500,,66.0,0.76"],
                      "branch": ["0,1009,,0.01,,", "0,1499,1500,,62.0,0.78"]}.items():
        (tmp_path / run / "version_0").mkdir(parents=True)
        (tmp_path / run / "version_0" / "metrics.csv").write_text(header + "\n".join(rows) + "\n")
    table = val_table(load_logs(tmp_path / "stable", tmp_path / "branch"))
    assert table["step"].tolist() == [500, 1000, 1500] and table["val/mse"].tolist() == [80.0, 70.0, 62.0]
    assert val_table(load_logs(tmp_path / "stable"))["val/mse"].tolist() == [80.0, 70.0, 66.0]


def test_total_wall_time_is_unknown_after_resuming_an_unclocked_run():
    clock = train_script.TrainingClock(resumed=True)  # a checkpoint without the clock's state
    assert clock.total_s() is None and clock.state_dict()["complete"] is False
    clock.load_state_dict({"total_s": 100.0, "complete": True})  # one that has it
    assert clock.total_s() >= 100.0


@pytest.mark.slow
def test_seed_preset_trains_with_the_same_script(tmp_path):
    out = train_script.main(["--preset", "seed", "--hidden-dims", "8", "8", "--max-steps", "2",
                             "--batch-size", "2", "--val-every", "2", "--val-size", "4", "--no-progress",
                             "--run-dir", str(tmp_path)])
    assert out["global_step"] == 2 and np.isfinite(out["best_val_mse"])


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    """A 2-process DDP run (gloo) through Lightning completes and validates on both ranks."""
    cmd = [sys.executable, str(REPO / "train" / "train.py"), *QUICK, "--max-steps", "6", "--val-every", "3",
           "--batch-size", "4", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
           "--run-dir", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["global_step"] == 6 and np.isfinite(result["best_val_mse"])


def test_evaluate_writes_every_metric_and_baseline(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    evaluate_script.main(["--model", str(tiny_model_dir), "--limit", "12", "--batch-size", "5",
                          "--json", str(out)])
    result = json.loads(out.read_text())
    for name in ("model", "copy_last", "blank"):
        for m in ("mse", "mae", "ssim", "ssim_openstl", "psnr"):
            assert len(result[name][m]["per_frame"]) == 10
            assert np.isfinite(result[name][m]["mean"])
    assert result["info"]["sequences"] == 12
    assert 100 < result["blank"]["mse"]["mean"] < 260
    assert result["copy_last"]["mse"]["mean"] > result["blank"]["mse"]["mean"]
    printed = capsys.readouterr().out
    assert "| copy last frame |" in printed and "| model |" in printed


def test_evaluate_measures_the_apps_longest_horizon_on_longer_independent_sequences(tiny_model_dir, capsys):
    """The app predicts up to 30 frames: --horizon 30 scores 30 frames of 40-frame sequences; the
    test set (10 frames after the context) refuses it with a message, not a traceback."""
    result = evaluate_script.main(["--model", str(tiny_model_dir), "--speed", "1", "--limit", "3",
                                   "--horizon", "30", "--batch-size", "3"])
    assert result["info"]["horizon"] == 30
    for name in ("model", "copy_last", "blank"):
        assert len(result[name]["mse"]["per_frame"]) == 30
    printed = capsys.readouterr().out
    assert "10 -> 30" in printed and "| MSE ÷ blank |" in printed
    with pytest.raises(SystemExit):
        evaluate_script.main(["--model", str(tiny_model_dir), "--horizon", "30"])
    assert "add --speed / --digits" in capsys.readouterr().err


def test_evaluate_reads_the_standard_file_format(tiny_model_dir, tmp_path):
    from framepred import data

    std = np.ascontiguousarray(data.test_set(6).transpose(1, 0, 2, 3))  # (20, 6, 64, 64) uint8
    np.save(tmp_path / "mnist_test_seq.npy", std)
    result = evaluate_script.main(["--model", str(tiny_model_dir), "--test-file",
                                   str(tmp_path / "mnist_test_seq.npy")])
    same = evaluate_script.main(["--model", str(tiny_model_dir), "--limit", "6"])
    assert result["info"]["sequences"] == 6
    assert result["model"]["mse"]["mean"] == pytest.approx(same["model"]["mse"]["mean"], rel=1e-5)


@pytest.mark.parametrize("how", ["path", "module"])
def test_train_scripts_import_their_siblings_as_the_package(how):
    """`python train/model_card.py` (as train/pilot/run.sh runs train.py) and `python -m
    train.model_card` both import evaluate.py as train.evaluate, never as a loose `evaluate` (which
    would shadow the PyPI package of that name)."""
    target = [str(REPO / "train" / "model_card.py")] if how == "path" else ["-m", "train.model_card"]
    proc = subprocess.run([sys.executable, "-X", "importtime", *target, "--help"], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "train.evaluate" in imported and "evaluate" not in imported


def test_overrides_that_spell_out_a_preset_take_its_name():
    """The v3 pilot's command built the `v3` design from overrides (`default` was v2's design then):
    its exported config.json (and so the model card and the app's inspector) names it `v3`."""
    v3 = train_script.build_config(train_script.parse_args(
        ["--preset", "v2", "--patch-size", "8", "--hidden-dims", "128", "128", "128", "128"]))
    assert v3.preset == "v3" and v3.patch_size == 8
    other = train_script.build_config(train_script.parse_args(["--preset", "v2", "--patch-size", "8"]))
    assert other.preset == "v2-custom" and other.hidden_dims == (64, 64, 64, 64)
    # `default` is v3 under another name: a run with it is labelled (and named) v3.
    assert train_script.build_config(train_script.parse_args(["--preset", "default"])).preset == "v3"


# Per shipped model: its preset, and the recipe flags its training.json records (v1's records its last
# phase, resumed at another learning rate and schedule: only what every phase shared is compared).
RECIPE_KEYS = ("lr", "schedule", "warmup_steps", "decay_steps", "teacher_forcing_steps", "ema_decay")
SHIPPED_RECIPES = [("v3", "default", RECIPE_KEYS), ("default", "default", RECIPE_KEYS), ("v2", "v2", RECIPE_KEYS),
                   ("v1", "v1-speed1", ("warmup_steps", "teacher_forcing_steps", "ema_decay"))]


@pytest.mark.parametrize("preset, folder, keys", SHIPPED_RECIPES)
def test_a_preset_is_its_shipped_models_design_and_recipe(preset, folder, keys):
    args = train_script.parse_args(["--preset", preset])
    shipped = json.loads((REPO / "checkpoints" / folder / "training.json").read_text())
    recorded = {"ema_decay": 0.0, **shipped["hparams"]}  # before the EMA existed: none
    assert {k: getattr(args, k) for k in keys} == {k: recorded[k] for k in keys}
    assert args.batch_size == shipped["sequences_per_step"]
    assert args.data == ("mixed" if shipped["data"]["mixed"] else "standard")
    from framepred.hub import read_config

    assert train_script.build_config(args) == read_config(REPO / "checkpoints" / folder)


def test_explicit_flags_win_over_the_presets_recipe():
    args = train_script.parse_args(["--preset", "v3", "--lr", "2e-4", "--ema-decay", "0", "--data", "standard"])
    assert (args.lr, args.ema_decay, args.data, args.schedule) == (2e-4, 0.0, "standard", "wsd")
    tiny = train_script.parse_args(["--preset", "tiny"])  # no recipe of its own: the parser's defaults
    assert (tiny.lr, tiny.schedule, tiny.ema_decay) == (1e-3, "cosine", 0.999)


def test_export_refuses_to_replace_a_shipped_model_unless_told(tmp_path, monkeypatch):
    """Before any training: a model folder under checkpoints/ (the repository's, or the app's
    FRAMEPRED_CHECKPOINTS_DIR) or that folder itself is refused as an export target; --overwrite
    allows it."""
    shipped = tmp_path / "app_checkpoints"
    train_script.ConvLSTMSeq2Seq(train_script.PRESETS["tiny"]).save_pretrained(shipped / "mine")
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(shipped))
    run = [*QUICK, "--max-steps", "2", "--val-every", "2", "--run-dir", str(tmp_path / "runs")]
    for target, message in ((str(shipped / "mine"), "a shipped model is there"),
                            ("default", "a shipped model is there"),  # the repository's checkpoints/default
                            (str(shipped) + os.sep, "the checkpoints folder itself")):
        with pytest.raises(SystemExit, match=message) as refused:
            train_script.main([*run, "--export", target])
        assert "--overwrite" in str(refused.value)
    assert not (tmp_path / "runs").exists()  # refused before training started
    assert not (shipped / "mine" / "training.json").exists()
    train_script.main([*run, "--export", str(tmp_path / "new")])  # anywhere else: no question asked
    train_script.main([*run, "--export", str(shipped / "mine"), "--overwrite"])
    assert json.loads((shipped / "mine" / "training.json").read_text())["global_step"] == 2


def _moving_mnist(n: int, frames: int, seed: int = 0) -> np.ndarray:
    from framepred import data

    return data.generate(data.load_digits("train"), np.random.default_rng(seed), n, frames, 2, dtype=np.uint8)


def test_trains_on_a_users_file_and_exports_a_model_that_loads(tmp_path):
    """--data PATH.npy: a user's (N, T, H, W) sequences train the tiny preset; context and horizon come
    from the file (8 frames: 4 -> 4), a seeded tenth is held out for validation, and the export is a
    model folder that load_model reads."""
    seqs = _moving_mnist(24, 8)  # (24, 8, 64, 64) uint8
    np.save(tmp_path / "mine.npy", seqs)
    out = train_script.main(["--data", str(tmp_path / "mine.npy"), *QUICK, "--max-steps", "6", "--val-every", "3",
                             "--batch-size", "4", "--run-dir", str(tmp_path / "runs"),
                             "--export", str(tmp_path / "export")])
    assert out["global_step"] == 6 and np.isfinite(out["best_val_mse"])
    info = json.loads((tmp_path / "export" / "training.json").read_text())
    assert (info["hparams"]["context"], info["hparams"]["horizon"]) == (4, 4)
    assert info["data"] == {"mixed": False, "file": "mine.npy", "layout": "NTHW", "sequences": 24, "frames": 8,
                            "frame_size": [64, 64], "train_sequences": 22, "val_sequences": 2, "split_seed": 0,
                            "context": 4, "horizon": 4}
    assert info["val_size"] == 2 and info["val_set"] == "2 sequences of mine.npy held out (seed 0)"
    assert info["val_reach_s3_t1"] is None  # the reach test is MovingMNIST's, not run on a user's file
    model = load_model(tmp_path / "export", device="cpu")
    assert model.config.preset == "tiny" and model.config.image_size == 64
    pred = predict(model, seqs[0, :4] / 255.0, 4)
    assert pred.shape == (4, 64, 64) and np.isfinite(pred).all()
    # The held-out split is seeded (the same on every --resume) and never trains.
    train_idx, val_idx = train_script.holdout_split(24, 0.1, seed=0)
    assert len(val_idx) == 2 and not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == 24
    assert [a.tolist() for a in train_script.holdout_split(24, 0.1, seed=0)] == [train_idx.tolist(), val_idx.tolist()]


def test_a_users_file_is_read_in_either_layout_and_refused_with_a_reason(tmp_path):
    """MovingMNIST's (20, N, 64, 64) is recognised; (N, T, H, W) float frames of another square size set
    the model's image size; a file that cannot train says why before any training starts."""
    # (20, 3, 64, 64): mnist_test_seq.npy's layout
    std = np.ascontiguousarray(_moving_mnist(3, 20).transpose(1, 0, 2, 3))
    np.save(tmp_path / "std.npy", std)
    seqs, layout = train_script.read_sequence_file(tmp_path / "std.npy")
    assert layout == "TNHW" and seqs.shape == (3, 20, 64, 64)
    np.testing.assert_array_equal(seqs[1], std[:, 1])
    assert isinstance(seqs.base, np.memmap) or isinstance(seqs, np.memmap)  # read as needed, not loaded

    small = np.random.default_rng(0).random((5, 6, 32, 32)).astype(np.float32)
    np.save(tmp_path / "small.npy", small)
    args = train_script.parse_args(["--data", str(tmp_path / "small.npy"), "--preset", "tiny"])
    assert train_script.data_shape(args) == (5, 6, 32, 32) and args.data_layout == "NTHW"
    assert train_script.context_and_horizon(args, 6) == (3, 3)
    assert train_script.build_config(args, image_size=32).image_size == 32

    refusals = {
        "rect.npy": (np.zeros((5, 6, 32, 40), np.uint8), "square frames"),
        "odd.npy": (np.zeros((5, 6, 30, 30), np.uint8), "multiple of patch_size"),
        "hot.npy": (np.full((5, 6, 32, 32), 2.0, np.float32), "must lie in [0, 1]"),
        "wide.npy": (np.zeros((5, 6, 32, 32), np.int16), "uint8 0..255 or float"),
        "one.npy": (np.zeros((1, 6, 32, 32), np.uint8), "at least 2 are needed"),
        "flat.npy": (np.zeros((6, 32, 32), np.uint8), "(N, T, H, W)"),
    }
    run = ["--preset", "tiny", "--run-dir", str(tmp_path / "runs"), "--max-steps", "1"]
    for name, (array, message) in refusals.items():
        np.save(tmp_path / name, array)
        with pytest.raises(SystemExit, match=re.escape(message)):
            train_script.main(["--data", str(tmp_path / name), *run])
    with pytest.raises(SystemExit, match="--context 5 and --horizon 2"):
        train_script.main(["--data", str(tmp_path / "small.npy"), "--context", "5", "--horizon", "2", *run])
    assert not (tmp_path / "runs").exists()  # every refusal came before training
