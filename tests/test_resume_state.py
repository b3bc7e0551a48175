"""A resume state packed into git-sized shards rebuilds the checkpoint exactly, and training resumes."""

import torch

from train import resume_state, train as train_script

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


def test_pack_unpack_round_trip_and_resume(tmp_path):
    run = ["--run-dir", str(tmp_path / "runs"), *QUICK]
    first = train_script.main([*run, "--max-steps", "6", "--val-every", "6"])
    shards = resume_state.pack(first["last_checkpoint"], tmp_path / "state", shard_mb=0.02)
    sizes = [p.stat().st_size for p in shards if p.suffix == ".safetensors"]
    assert len(sizes) > 1 and max(sizes) < 0.03e6  # split into pieces of about the size asked for

    rebuilt = resume_state.unpack(tmp_path / "state", tmp_path / "rebuilt.ckpt")
    original = torch.load(first["last_checkpoint"], map_location="cpu", weights_only=False)
    assert _same(original, torch.load(rebuilt, map_location="cpu", weights_only=False))

    second = train_script.main([*run, "--max-steps", "9", "--val-every", "3", "--resume", str(rebuilt)])
    assert second["global_step"] == 9
