"""torch datasets of MovingMNIST for training: a fixed array, and an endless stream of fresh
sequences from :mod:`framepred.data`'s generator. Items are float32 tensors ``(T, 1, 64, 64)``."""

from __future__ import annotations

import numpy as np
import torch

from .data import SEQ_LEN, draw_bar_settings, draw_settings, generate, to_unit_float


class SequenceDataset(torch.utils.data.Dataset):
    """Map-style dataset over a fixed array ``(N, T, 64, 64)`` (uint8 or float in [0, 1]).

    Items are float32 tensors ``(T, 1, 64, 64)``.
    """

    def __init__(self, sequences: np.ndarray):
        if sequences.ndim != 4:
            raise ValueError(f"expected (N, T, H, W), got {sequences.shape}")
        self.sequences = sequences

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> torch.Tensor:
        seq = to_unit_float(np.asarray(self.sequences[i]))  # (T, H, W)
        return torch.from_numpy(seq)[:, None]  # (T, 1, H, W)


class MovingMNISTStream(torch.utils.data.IterableDataset):
    """Endless fresh training sequences ``(T, 1, 64, 64)`` drawn on the fly from ``digits``.

    With ``mixed=True`` every sequence draws its own settings with :func:`draw_settings` (a
    ``standard_fraction`` at the standard protocol), or with :func:`draw_bar_settings` when
    ``same_speed_fraction`` > 0 (the bar's stream, with its ``shifted_fraction``); otherwise all use
    ``n_digits`` and ``speed``.
    Each (distributed rank, dataloader worker) pair gets its own random stream derived from
    ``seed``, so DDP processes and workers never repeat each other's sequences.
    """

    def __init__(
        self,
        digits: np.ndarray,
        seed: int = 0,
        seq_len: int = SEQ_LEN,
        n_digits: int = 2,
        speed: float = 1.0,
        chunk: int = 64,
        mixed: bool = False,
        standard_fraction: float = 0.25,
        same_speed_fraction: float = 0.0,
        shifted_fraction: float = 0.0,
    ):
        super().__init__()
        self.digits, self.seed, self.seq_len = digits, seed, seq_len
        self.n_digits, self.speed, self.chunk = n_digits, speed, chunk
        self.mixed, self.standard_fraction, self.same_speed_fraction = mixed, standard_fraction, same_speed_fraction
        self.shifted_fraction = shifted_fraction

    def __iter__(self):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, rank, worker])
        while True:
            # Generating in chunks amortises the per-call cost of the vectorised generator.
            if self.mixed and self.same_speed_fraction > 0:
                settings = draw_bar_settings(rng, self.chunk, self.standard_fraction, self.same_speed_fraction,
                                             shifted_fraction=self.shifted_fraction)
            elif self.mixed:
                settings = draw_settings(rng, self.chunk, self.standard_fraction)
            else:
                settings = {"n_digits": self.n_digits, "speed": self.speed}
            block = generate(self.digits, rng, self.chunk, self.seq_len, **settings)
            yield from torch.from_numpy(block)[:, :, None]  # items (T, 1, H, W)
