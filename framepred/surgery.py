"""Model surgery for training: grow a trained model into a bigger one that predicts exactly what
the trained one predicts at step 0, so that training continues from it instead of starting over.

* :func:`widen`: wider layers (Net2Net-style; v1's 48 channels -> v2's 64).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from .model import ConvLSTMSeq2Seq


@torch.no_grad()
def widen(model: ConvLSTMSeq2Seq, hidden_dims: tuple[int, ...], init_std: float = 0.01,
          generator: torch.Generator | None = None) -> ConvLSTMSeq2Seq:
    """A wider copy of a ``"frame"`` model that predicts what ``model`` predicts (Net2Net-style).

    Every old weight is copied to its place; the weights that *read* a new channel (the next layer's
    input, the layer's own recurrence, the head) are zero, so the new channels cannot change any old
    output; the weights that *write* a new channel get small random values (std ``init_std``) so that
    they start learning at once. Outputs agree with the old model's up to float summation order.
    """
    old_cfg = model.config
    hidden_dims = tuple(int(h) for h in hidden_dims)
    if old_cfg.decoder != "frame" or not old_cfg.tie_decoder:
        raise ValueError("widen() supports tied 'frame' models")
    if len(hidden_dims) != len(old_cfg.hidden_dims) or any(
            n < o for n, o in zip(hidden_dims, old_cfg.hidden_dims)):
        raise ValueError(f"cannot widen {old_cfg.hidden_dims} to {hidden_dims}")
    new = ConvLSTMSeq2Seq(replace(old_cfg, hidden_dims=hidden_dims))
    in_old = (old_cfg.patch_channels, *old_cfg.hidden_dims)
    in_new = (old_cfg.patch_channels, *hidden_dims)
    for k, (src, dst) in enumerate(zip(model.encoder, new.encoder)):
        n_old, n_new = old_cfg.hidden_dims[k], hidden_dims[k]
        w_old, b_old = src.conv.weight, src.conv.bias  # (4*n_old, in_old + n_old, kh, kw)
        w = torch.randn(dst.conv.weight.shape, generator=generator) * init_std  # (4*n_new, in_new + n_new, kh, kw)
        b = torch.zeros_like(dst.conv.bias)
        # Columns reading new channels: the new part of the input x, and the new part of h.
        w[:, in_old[k]:in_new[k]] = 0
        w[:, in_new[k] + n_old:] = 0
        for gate in range(4):  # rows are the i, f, o, g blocks, each n channels
            rows_old = slice(gate * n_old, (gate + 1) * n_old)
            rows_new = slice(gate * n_new, gate * n_new + n_old)
            w[rows_new, : in_old[k]] = w_old[rows_old, : in_old[k]]  # reads x
            w[rows_new, in_new[k] : in_new[k] + n_old] = w_old[rows_old, in_old[k]:]  # reads h
            b[rows_new] = b_old[rows_old]
        dst.conv.weight.copy_(w)
        dst.conv.bias.copy_(b)
    head = torch.zeros_like(new.head.weight)  # (C*p*p, hidden_top_new, 1, 1)
    head[:, : old_cfg.hidden_dims[-1]] = model.head.weight
    new.head.weight.copy_(head)
    new.head.bias.copy_(model.head.bias)
    return new.train(model.training)

