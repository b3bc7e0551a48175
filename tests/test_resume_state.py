"""Resume states: packed into git-sized shards (exact round trip), or compact (EMA exact, raw weights
to bf16 precision, no AdamW moments); both resume training."""

import json
import shutil

import pytest
import torch

from framepred.model import ConvLSTMSeq2Seq
from train import resume_state
from train import train as train_script

QUICK = ["--preset", "tiny", "--val-size", "6", "--val-reach", "4", "--no-progress", "--threads", "1",
         "--warmup-steps", "2", "--batch-size", "4"]


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A 6-step tiny run with EMA: (its train.py arguments, its last checkpoint)."""
    run = ["--run-dir", str(tmp_path_factory.mktemp("runs")), *QUICK]
    first = train_script.main([*run, "--max-steps", "6", "--val-every", "6"])
    kept = tmp_path_factory.mktemp("kept") / "step6.ckpt"  # resumed runs rewrite last.ckpt
    shutil.copyfile(first["last_checkpoint"], kept)
    return run, str(kept)


def test_pack_unpack_round_trip_and_resume(first_run, tmp_path):
    run, last = first_run
    shards = resume_state.pack(last, tmp_path / "state", shard_mb=0.02)
    sizes = [p.stat().st_size for p in shards if p.suffix == ".safetensors"]
    assert len(sizes) > 1 and max(sizes) < 0.03e6  # split into pieces of about the size asked for

    rebuilt = resume_state.unpack(tmp_path / "state", tmp_path / "rebuilt.ckpt")
    original = torch.load(last, map_location="cpu", weights_only=False)
    assert _same(original, torch.load(rebuilt, map_location="cpu", weights_only=False))

    second = train_script.main([*run, "--max-steps", "9", "--val-every", "3", "--resume", str(rebuilt)])
    assert second["global_step"] == 9


def test_split_fp32_is_exact_and_its_upper_half_is_bf16_rounding():
    x = torch.randn(50_000, generator=torch.Generator().manual_seed(0)) * torch.logspace(-30, 30, 50_000)
    x = torch.cat([x, torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e38, -1e-45, float("inf"), -float("inf")]),
                   torch.tensor([0x3F808000, 0x3F818000, -0x40800000], dtype=torch.int32).view(torch.float32)])
    high, low = resume_state.split_fp32(x)
    assert high.dtype == torch.bfloat16 and low.dtype == torch.int16
    assert torch.equal(resume_state.join_fp32(high, low).view(torch.int32), x.view(torch.int32))
    # Rounded to nearest (ties away from zero, torch's to-even elsewhere): within half a bf16 unit.
    finite = (x.abs() > torch.finfo(torch.float32).tiny) & (x.abs() < 3e38)  # normal numbers
    err = (high.float() - x)[finite].abs()
    assert (err <= x[finite].abs() * 2.0**-8).all()
    assert (high.float() == x.to(torch.bfloat16).float()).float().mean() > 0.999


def test_compact_state_rebuilds_the_checkpoint_and_resumes_with_a_rewarm(first_run, tmp_path):
    run, last = first_run
    files = resume_state.pack_compact(last, tmp_path / "compact", limit=30_000)
    assert all(p.stat().st_size <= 30_000 for p in files)  # the tiny model: 12 k weights
    with pytest.raises(ValueError, match="over 10000 bytes"):
        resume_state.pack_compact(last, tmp_path / "too-small", limit=10_000)
    manifest = json.loads((tmp_path / "compact" / "manifest.json").read_text())
    assert manifest["global_step"] == 6 and manifest["ema"] and manifest["val_mse"] > 0

    rebuilt = torch.load(resume_state.unpack_compact(tmp_path / "compact", tmp_path / "c.ckpt"),
                         map_location="cpu", weights_only=False)
    original = torch.load(last, map_location="cpu", weights_only=False)
    sd, sd0 = rebuilt["state_dict"], original["state_dict"]
    assert list(sd) == list(sd0)
    for k, v in sd0.items():
        if k.startswith("ema."):
            assert torch.equal(sd[k], v), k  # the EMA exactly
        else:  # the raw weights: their difference from the EMA to bf16 precision
            diff = v - sd0["ema." + k.removeprefix("model.")]
            assert (sd[k] - v).abs().max() <= diff.abs().max() * 2.0**-8 + 1e-12, k
    # Everything else as it was (tuples, small tensors, callback states), but no AdamW moments.
    assert not rebuilt["optimizer_states"][0]["state"]
    assert _same(rebuilt["optimizer_states"][0]["param_groups"], original["optimizer_states"][0]["param_groups"])
    rest = lambda s: {k: v for k, v in s.items() if k not in ("state_dict", "optimizer_states")}  # noqa: E731
    assert _same(rest(rebuilt), rest(original))

    # The folder is also a model: from_pretrained reads the EMA's bf16 halves with config.json.
    model = ConvLSTMSeq2Seq.from_pretrained(tmp_path / "compact")
    for k, v in model.state_dict().items():
        assert torch.equal(v, resume_state.split_fp32(sd0["ema." + k])[0].float())

    with pytest.raises(SystemExit, match="--rewarm-steps"):  # zero moments need the ramp
        train_script.main([*run, "--max-steps", "9", "--resume", str(tmp_path / "c.ckpt")])
    resumed = train_script.main([*run, "--max-steps", "9", "--val-every", "3", "--rewarm-steps", "2",
                                 "--resume", str(tmp_path / "c.ckpt")])
    assert resumed["global_step"] == 9 and resumed["best_val_mse"] > 0


def test_a_compact_state_records_the_validation_of_its_own_step(first_run, tmp_path):
    """A checkpoint whose last validation was not the run's best holds only the best's score: its
    compact state records no score (a GPU run's start check would compare against the wrong one),
    or the score given from the run's log."""
    _, last = first_run
    state = torch.load(last, map_location="cpu", weights_only=False)
    key = next(k for k in state["callbacks"] if k.startswith("ModelCheckpoint") and "'val/mse'" in k)
    assert state["global_step"] == 6 and state["callbacks"][key]["best_model_path"].endswith("best-step=6.ckpt")
    state["callbacks"][key]["best_model_path"] = state["callbacks"][key]["best_model_path"].replace("=6", "=3")
    torch.save(state, tmp_path / "later.ckpt")  # as if step 3 had scored better than step 6
    read = lambda d: json.loads((d / "manifest.json").read_text())["val_mse"]  # noqa: E731
    resume_state.pack_compact(tmp_path / "later.ckpt", tmp_path / "a", limit=30_000)
    assert read(tmp_path / "a") is None
    resume_state.main(["pack-compact", str(tmp_path / "later.ckpt"), str(tmp_path / "b"), "--val-mse", "65.89"])
    assert read(tmp_path / "b") == 65.89


def test_a_compact_state_written_at_two_steps_is_refused(tmp_path):
    w = {"a": torch.randn(3, 4)}
    resume_state.write_compact(tmp_path, w, {"a": w["a"] + 0.01}, {"preset": "x"}, {"global_step": 5})
    stale = (tmp_path / "delta.safetensors").read_bytes()
    resume_state.write_compact(tmp_path, w, {"a": w["a"] - 0.01}, {"preset": "x"}, {"global_step": 6})
    ema, raw, _, manifest = resume_state.read_compact(tmp_path)
    assert torch.equal(ema["a"], w["a"]) and manifest["global_step"] == 6
    assert torch.allclose(raw["a"], w["a"] - 0.01, atol=1e-4)
    (tmp_path / "delta.safetensors").write_bytes(stale)  # as if a write had been cut short
    with pytest.raises(ValueError, match="delta.safetensors is from step 5"):
        resume_state.read_compact(tmp_path)
    with pytest.raises(ValueError, match="not a compact resume state"):
        resume_state.read_compact(tmp_path / "nothing")
