import numpy as np
import pytest
import torch

from framepred import data
from framepred.datasets import MovingMNISTStream, SequenceDataset


@pytest.fixture(scope="module")
def digits():
    return data.load_digits("train")


def test_digit_split_is_disjoint_and_sized():
    images, labels = data._mnist_5k()
    train = data.split_indices(labels, "train")
    test = data.split_indices(labels, "test")
    assert len(train) == 4000 and len(test) == 1000
    assert not set(train) & set(test)
    # No held-out digit image appears among the training digits (not even as a duplicate image).
    train_hashes = {images[i].tobytes() for i in train}
    assert not any(images[i].tobytes() in train_hashes for i in test)
    assert np.bincount(labels[test]).tolist() == [100] * 10


def test_generator_is_deterministic(digits):
    a = data.generate(digits, np.random.default_rng(7), 4, 20, 2)
    b = data.generate(digits, np.random.default_rng(7), 4, 20, 2)
    c = data.generate(digits, np.random.default_rng(8), 4, 20, 2)
    assert a.shape == (4, 20, 64, 64) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_trajectory_stays_on_canvas_bounces_and_moves_at_protocol_speed():
    rng = np.random.default_rng(0)
    pos = data.trajectories(rng, 500, 40)  # (n, T, 2) top-left corners
    assert pos.min() >= 0 and pos.max() <= 64 - 28
    step = np.linalg.norm(np.diff(pos, axis=1), axis=-1)
    # 0.1 of the 36 px range per frame = 3.6 px (integer truncation and bounces make it vary a bit).
    assert 3.0 < np.median(step) < 4.2
    # Bounces: some coordinate sequence changes direction at a wall.
    d = np.diff(pos[..., 1], axis=1)
    flips = (d[:, :-1] * d[:, 1:] < 0).any(axis=1)
    assert flips.mean() > 0.3
    fast = data.trajectories(np.random.default_rng(0), 500, 3, speed=2.0)
    assert np.median(np.linalg.norm(np.diff(fast, axis=1), axis=-1)) > 6.0


def test_digits_are_whole_and_combined_with_max(digits):
    one = data.generate(digits, np.random.default_rng(3), 8, 20, 1, dtype=np.uint8)
    # A single digit is never clipped by the canvas: every frame holds the same total ink.
    ink = one.astype(np.int64).sum(axis=(2, 3))
    assert (ink == ink[:, :1]).all()
    two = data.generate(digits, np.random.default_rng(3), 8, 20, 2, dtype=np.uint8)
    assert two.max() <= 255 and two.dtype == np.uint8


def test_held_out_test_set_checksum():
    ts = data.test_set()
    assert ts.shape == (1000, 20, 64, 64) and ts.dtype == np.uint8
    assert data.sha256(ts) == data.TEST_SET_SHA256
    assert np.array_equal(data.test_set(5), ts[:5])


def test_load_standard_and_nthw_layouts(tmp_path):
    seqs = data.generate(data.load_digits("test"), np.random.default_rng(1), 3, 20, 2, dtype=np.uint8)
    std = np.ascontiguousarray(seqs.transpose(1, 0, 2, 3))  # (20, 3, 64, 64) like mnist_test_seq.npy
    np.save(tmp_path / "mnist_test_seq.npy", std)
    np.save(tmp_path / "nthw.npy", seqs)
    a = data.load_sequences(tmp_path / "mnist_test_seq.npy")
    b = data.load_sequences(tmp_path / "nthw.npy")
    assert a.shape == b.shape == (3, 20, 64, 64)
    np.testing.assert_allclose(a, seqs / 255.0, atol=1e-6)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "arr, message",
    [
        (np.zeros((20, 3, 32, 32), np.uint8), "expected sequences of shape"),
        (np.zeros((20, 64, 64), np.uint8), "expected sequences of shape"),
        (np.zeros((2, 20, 64, 64), np.int64), "dtype"),
        (np.full((2, 20, 64, 64), np.nan, np.float32), "NaN"),
        (np.full((2, 20, 64, 64), 3.0, np.float32), r"\[0, 1\]"),
    ],
)
def test_loader_rejects_bad_arrays(arr, message):
    with pytest.raises(ValueError, match=message):
        data.load_sequences(arr)


def test_loader_refuses_pickled_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a plain numeric"):
        data.load_sequences(tmp_path / "obj.npy")


def test_torch_datasets(digits):
    stream = iter(MovingMNISTStream(digits, seed=3, chunk=4))
    items = [next(stream) for _ in range(6)]
    assert items[0].shape == (20, 1, 64, 64) and items[0].dtype == torch.float32
    assert not torch.equal(items[0], items[1])
    fixed = SequenceDataset(data.test_set(4))
    assert len(fixed) == 4 and fixed[2].shape == (20, 1, 64, 64) and float(fixed[2].max()) <= 1.0


def test_bar_stream_weights_standard_and_same_speed_sequences_like_the_acceptance_checks():
    n = 20_000
    s = data.draw_bar_settings(np.random.default_rng(0), n)
    again = data.draw_bar_settings(np.random.default_rng(0), n)
    assert all(np.array_equal(s[k], again[k]) for k in s)  # seeded
    counts, speed, phase = s["n_digits"], s["speed"], s["phase"]
    standard = (counts == 2) & (speed[:, :2] == 1.0).all(axis=1) & (phase == 0).all(axis=1)
    same = ~standard & (speed == speed[:, :1]).all(axis=1)
    mixed = ~standard & ~same
    assert abs(standard.mean() - data.BAR_STANDARD_FRACTION) < 0.015
    assert abs(same.mean() - data.BAR_SAME_SPEED_FRACTION) < 0.015
    # Same speed: 1-3 digits equally often, one speed over the grid's range, the truncated grid.
    lo, hi = data.SAME_SPEED_RANGE
    assert (speed[same] >= lo).all() and (speed[same] <= hi).all() and (phase[same] == 0).all()
    assert np.allclose(np.bincount(counts[same])[1:] / same.sum(), 1 / 3, atol=0.02)
    assert speed[same, 0].min() < lo * 1.05 and speed[same, 0].max() > hi * 0.95
    # The rest: the mixed stream (a speed per digit, sub-pixel phases).
    assert (phase[mixed] > 0).all() and (speed[mixed, 0] != speed[mixed, 1]).all()
    with pytest.raises(ValueError, match="sum to <= 1"):
        data.draw_bar_settings(np.random.default_rng(0), 4, 0.7, 0.4)


def test_shifted_fraction_moves_that_share_of_standard_and_same_speed_motion_off_the_truncated_grid():
    n = 20_000
    plain = data.draw_bar_settings(np.random.default_rng(0), n)
    s = data.draw_bar_settings(np.random.default_rng(0), n, shifted_fraction=0.5)
    # The same kinds, counts and speeds: only grids move.
    assert np.array_equal(s["n_digits"], plain["n_digits"]) and np.array_equal(s["speed"], plain["speed"])
    motion = (s["speed"] == s["speed"][:, :1]).all(axis=1)  # standard and same speed
    shifted = (s["phase"] > 0).all(axis=1)
    assert abs(shifted[motion].mean() - 0.5) < 0.02 and (s["phase"][~motion] > 0).all()
    standard = (s["n_digits"] == 2) & (s["speed"][:, :2] == 1.0).all(axis=1)
    assert abs(shifted[standard].mean() - 0.5) < 0.03
    assert (s["phase"][motion & ~shifted] == 0).all()  # the rest keeps the protocol's truncated grid
    with pytest.raises(ValueError, match="shifted_fraction"):
        data.draw_bar_settings(np.random.default_rng(0), 4, shifted_fraction=1.5)


def test_shifted_validation_is_the_standard_third_half_a_pixel_over():
    val, shifted = data.validation_set(), data.validation_shifted()
    assert shifted.shape == (data.VALIDATION_SIZE // 3, data.SEQ_LEN, 64, 64)
    assert np.array_equal(data.validation_shifted(phase=0.0), val[: len(shifted)])
    # The same digits and paths, each digit moved by at most a pixel per axis: a few pixels differ.
    assert 0.01 < (shifted != val[: len(shifted)]).mean() < 0.15


def test_bar_stream_is_what_the_training_stream_yields(digits):
    stream = MovingMNISTStream(digits, seed=3, chunk=6, mixed=True, standard_fraction=0.4, same_speed_fraction=0.35)
    items = torch.stack([x for _, x in zip(range(6), stream)])  # (6, T, 1, 64, 64)
    rng = np.random.default_rng([3, 0, 0])  # rank 0, worker 0 (see MovingMNISTStream.__iter__)
    expected = data.generate(digits, rng, 6, data.SEQ_LEN, **data.draw_bar_settings(rng, 6, 0.4, 0.35))
    np.testing.assert_array_equal(items[:, :, 0].numpy(), expected)


def test_train_data_flag_chooses_the_stream():
    from train import train as train_script

    def settings(*flags):
        return train_script.data_settings(train_script.parse_args(list(flags)))

    assert settings() == {"mixed": True, "standard_fraction": 0.25}
    assert settings("--data", "bar") == {"mixed": True, "standard_fraction": data.BAR_STANDARD_FRACTION,
                                         "same_speed_fraction": data.BAR_SAME_SPEED_FRACTION,
                                         "shifted_fraction": data.BAR_SHIFTED_FRACTION}
    shifted = train_script.MovingMNISTDataModule(**settings("--data", "bar", "--shifted-fraction", "0.5"))
    assert shifted.describe()["shifted_fraction"] == 0.5
    with pytest.raises(SystemExit, match="settings of --data bar"):
        settings("--shifted-fraction", "0.5")
    assert settings("--data", "bar", "--same-speed-fraction", "0.5", "--standard-fraction", "0.5")[
        "same_speed_fraction"] == 0.5
    with pytest.raises(SystemExit, match="--data bar"):
        settings("--same-speed-fraction", "0.3")
    with pytest.raises(SystemExit, match="summing to <= 1"):
        settings("--data", "bar", "--standard-fraction", "0.9")
    dm = train_script.MovingMNISTDataModule(**settings("--data", "bar"))
    assert dm.describe()["mix"] == "bar" and dm.describe()["same_speed_range"] == list(data.SAME_SPEED_RANGE)
