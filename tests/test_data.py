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
