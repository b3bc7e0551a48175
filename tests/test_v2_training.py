"""Model v2 training: the mixed-settings stream, widen(), the EMA export, a validation set apart from
the test set. Tiny configs, seeded, CPU seconds."""

from itertools import islice

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from framepred import data as fdata
from framepred.config import ConvLSTMConfig
from framepred.datasets import MovingMNISTStream
from framepred.model import ConvLSTMSeq2Seq
from framepred.surgery import widen
from train import train as train_script


@pytest.fixture(scope="module")
def settings() -> dict:
    return fdata.draw_settings(np.random.default_rng(0), 20_000)


def _standard(s: dict) -> np.ndarray:
    return (s["phase"] == 0).all(axis=1)  # drawn phases are never exactly 0


def test_mixed_settings_cover_the_demo_range(settings):
    std = _standard(settings)
    assert abs(std.mean() - 0.25) < 0.015  # about a quarter at the standard protocol ...
    assert (settings["n_digits"][std] == 2).all() and (settings["speed"][std] == 1.0).all()
    counts, speed, phase = settings["n_digits"][~std], settings["speed"][~std], settings["phase"][~std]
    # ... the rest: 1, 2 and 3 digits equally often,
    assert np.bincount(counts, minlength=4)[1:] / len(counts) == pytest.approx([1 / 3] * 3, abs=0.02)
    # speeds over 0.25-3, log-uniform (equal shares in four equal bins of log speed),
    assert speed.min() >= 0.25 and speed.max() <= 3.0 and speed.min() < 0.26 and speed.max() > 2.9
    edges = np.linspace(np.log(0.25), np.log(3.0), 5)
    shares = np.histogram(np.log(speed), edges)[0] / speed.size
    assert shares == pytest.approx([0.25] * 4, abs=0.015)
    # one speed per digit (independent, never all equal),
    assert speed.shape[1] == 3 and not (speed[:, 0] == speed[:, 1]).any()
    assert abs(np.corrcoef(np.log(speed[:, 0]), np.log(speed[:, 1]))[0, 1]) < 0.05
    # and sub-pixel phases uniform in [0, 1) on each axis.
    assert phase.min() >= 0.0 and phase.max() < 1.0
    for axis in range(2):
        assert np.histogram(phase[:, axis], np.linspace(0, 1, 5))[0] / len(phase) == pytest.approx(
            [0.25] * 4, abs=0.015)


def test_mixed_stream_draws_each_chunk_with_draw_settings():
    digits = fdata.load_digits("train")
    stream = MovingMNISTStream(digits, seed=5, chunk=8, mixed=True)
    items = torch.stack(list(islice(iter(stream), 8)))  # (8, T, 1, H, W)
    rng = np.random.default_rng([5, 0, 0])  # rank 0, worker 0 (see MovingMNISTStream.__iter__)
    expected = fdata.generate(digits, rng, 8, fdata.SEQ_LEN, **fdata.draw_settings(rng, 8, 0.25))
    np.testing.assert_array_equal(items[:, :, 0].numpy(), expected)


def test_a_mixed_sequence_shows_the_requested_number_of_digits():
    # A "digit" that is a single bright pixel: the count of lit pixels is the count of digits shown.
    dot = np.zeros((1, 28, 28), np.uint8)
    dot[0, 14, 14] = 255
    s = fdata.draw_settings(np.random.default_rng(1), 60, standard_fraction=0.0)
    seqs = fdata.generate(dot, np.random.default_rng(2), 60, fdata.SEQ_LEN, dtype=np.uint8, **s)
    lit = (seqs > 0).sum(axis=(2, 3))  # (N, T)
    assert set(s["n_digits"]) == {1, 2, 3}
    for k, per_frame in zip(s["n_digits"], lit):
        assert per_frame.max() == k  # never more than requested (unused slots stay empty) ...
        assert np.median(per_frame) == k  # ... and all of them, unless two dots meet


def test_widen_preserves_predictions_and_sets_the_new_sizes():
    torch.manual_seed(0)
    small = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    wide = widen(small, (12, 16), generator=torch.Generator().manual_seed(1)).eval()
    assert wide.config.hidden_dims == (12, 16) and small.config.hidden_dims == (8, 8)
    assert [cell.conv.out_channels for cell in wide.encoder] == [4 * 12, 4 * 16]
    assert wide.num_parameters() > small.num_parameters()
    ctx = torch.from_numpy(fdata.to_unit_float(fdata.test_set(3)[:, :10]))[:, :, None]  # (3, 10, 1, 64, 64)
    with torch.no_grad():
        a, b = small(ctx, 10, clamp=False), wide(ctx, 10, clamp=False)
    assert a.std() > 1e-3  # a non-trivial prediction to compare
    torch.testing.assert_close(b, a, atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        widen(small, (4, 8))  # narrower is not widening


def test_ema_weights_are_what_is_exported(tmp_path):
    threads = torch.get_num_threads()
    try:
        out = train_script.main([
            "--preset", "tiny", "--max-steps", "3", "--val-every", "3", "--val-size", "6", "--batch-size", "2",
            "--ema-decay", "0.9", "--lr", "3e-3", "--warmup-steps", "1", "--threads", "1", "--no-progress",
            "--run-dir", str(tmp_path / "runs"), "--export", str(tmp_path / "export")])
    finally:
        torch.set_num_threads(threads)
    assert out["global_step"] == 3
    state = torch.load(out["last_checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    raw = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    ema = {k.removeprefix("ema."): v for k, v in state.items() if k.startswith("ema.")}
    exported = load_file(tmp_path / "export" / "model.safetensors")
    assert set(exported) == set(ema) == set(raw)
    for k in exported:
        torch.testing.assert_close(exported[k], ema[k], atol=0, rtol=0)
    assert any(not torch.equal(exported[k], raw[k]) for k in exported)  # the average, not the raw weights


def test_validation_set_is_not_the_test_set_and_is_what_validation_reads():
    val, test = fdata.validation_set(), fdata.test_set()
    assert val.shape == (fdata.VALIDATION_SIZE, 20, 64, 64) and val.dtype == np.uint8
    test_seqs = {seq.tobytes() for seq in test}
    assert not any(seq.tobytes() in test_seqs for seq in val)
    test_first = {seq[0].tobytes() for seq in test}  # not even a shared starting frame
    assert not any(seq[0].tobytes() in test_first for seq in val)

    dm = train_script.MovingMNISTDataModule(val_size=10, val_batch_size=4)
    seen = torch.cat(list(dm.val_dataloader()))[:, :, 0].numpy()  # (10, T, H, W)
    np.testing.assert_array_equal(seen, fdata.to_unit_float(fdata.validation_set(10)))


def test_the_weight_average_warms_up_so_a_run_from_scratch_forgets_its_initialisation():
    decay = [train_script.ema_decay_at(s, 0.999) for s in (0, 10, 100, 1_000, 100_000)]
    assert decay[0] == pytest.approx(0.1) and decay == sorted(decay) and decay[-1] == 0.999
    # What is left of the initialisation after 800 steps: negligible, instead of 0.999^800 = 45 %.
    left = np.prod([train_script.ema_decay_at(s, 0.999) for s in range(1, 801)])
    assert left < 1e-3 < 0.999**800
