"""ConvLSTM encoder-decoder for frame prediction.

Two decoder styles share one config and one module:

* ``decoder="hidden"`` is the seed (holmdk/Video-Prediction-using-PyTorch ``EncoderDecoderConvLSTM``):
  the encoder's last top hidden state is the decoder's first input, the decoder then feeds its own
  top hidden state back and never sees a frame; a ``Conv3d`` head and a sigmoid make the frames.
* ``decoder="frame"`` is ours: a true autoregressive rollout. Frames are folded into patches
  (space-to-depth) so that the recurrent states are small; every step reads a frame and predicts
  the next one; after the context the model reads its own prediction. The encoder stack reads the
  context and the decoder stack starts from the encoder's states; with ``tie_decoder`` (default)
  both are the same cells, as in OpenSTL's ConvLSTM, so every frame of a training sequence gives a
  next-frame training signal.

Tensors are ``(B, T, C, H, W)`` float32 in [0, 1] at the public boundary. The config is
:mod:`framepred.config`; finding a saved model's files (a folder or a Hub repo) is :mod:`framepred.hub`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from .config import CONFIG_NAME, ConvLSTMConfig, config_from_dict, read_config_file
from .fast_conv import conv2d
from .hub import WEIGHTS_NAME, resolve

State = tuple[Tensor, Tensor]


class Rollout(NamedTuple):
    """A prediction with the states behind it (:meth:`ConvLSTMSeq2Seq.rollout`)."""

    frames: Tensor  # (B, horizon, C, H, W) in [0, 1]
    hidden: list[Tensor]  # per layer (B, T_steps, hidden_k, H/p, W/p)


class ConvLSTMCell(nn.Module):
    """ConvLSTM cell (Shi et al. 2015) as in the seed: one convolution over ``cat([x, h])`` gives
    the input, forget, output and cell gates."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.conv = nn.Conv2d(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size, padding=kernel_size // 2, bias=bias,
        )

    def init_state(self, x: Tensor) -> State:
        """Zero (h, c), each ``(B, hidden, H, W)``, on x's device and dtype."""
        b, _, h, w = x.shape
        z = x.new_zeros(b, self.hidden_channels, h, w)
        return z, z

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """x ``(B, C_in, H, W)`` -> new (h, c), each ``(B, hidden, H, W)``."""
        h, c = self.init_state(x) if state is None else state
        # Under autocast the convolution runs in bf16/fp16; the gates and the cell state stay in the
        # state's dtype (float32 for float32 input) so that c does not lose precision over time.
        gates = conv2d(self.conv, torch.cat([x, h], dim=1)).to(c.dtype)  # (B, 4*hidden, H, W)
        n = self.hidden_channels
        i, f, o = torch.sigmoid(gates[:, : 3 * n]).chunk(3, dim=1)  # each (B, hidden, H, W)
        # c = f * c + i * tanh(g) and h = o * tanh(c), with tanh(z) = 2 sigmoid(2z) - 1 (an identity;
        # equal up to float rounding): on CPU torch.tanh is several times slower than torch.sigmoid,
        # and these few fused calls are what the element-wise part of a step costs at batch 1.
        g = gates[:, 3 * n :]
        c = torch.addcmul(torch.addcmul(-i, i, torch.sigmoid(g + g), value=2), f, c)
        h = torch.addcmul(-o, o, torch.sigmoid(c + c), value=2)
        return h, c


def _stack(config: ConvLSTMConfig, in_channels: int | None = None) -> nn.ModuleList:
    """The cells of one stack: the first reads ``in_channels`` (default: a folded frame's channels;
    the seed's decoder: the top hidden state), every other the hidden state of the layer below."""
    dims = config.hidden_dims
    ins = (config.patch_channels if in_channels is None else in_channels, *dims[:-1])
    return nn.ModuleList(ConvLSTMCell(i, h, config.kernel_size) for i, h in zip(ins, dims))


def _step(cells: nn.ModuleList, x: Tensor, states: list[State | None]) -> Tensor:
    """Run one time step through a stack, updating ``states`` in place; returns the top hidden state
    ``(B, hidden_top, H', W')``."""
    for k, cell in enumerate(cells):
        states[k] = cell(x, states[k])  # each (B, hidden_k, H', W')
        x = states[k][0]
    return x


class ConvLSTMSeq2Seq(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="framepred",
    tags=["video-prediction", "convlstm", "moving-mnist"],
):
    """ConvLSTM encoder-decoder: ``forward(context, horizon) -> prediction``.

    ``context`` is ``(B, T_ctx, C, H, W)`` in [0, 1]; the prediction is ``(B, horizon, C, H, W)`` in
    [0, 1], for any positive ``horizon``.
    """

    def __init__(self, config: ConvLSTMConfig):
        super().__init__()
        if isinstance(config, dict):  # tolerate a plain dict (e.g. parsed config.json)
            config = config_from_dict(config, "config")
        self.config = config
        p, dims = config.patch_size, config.hidden_dims
        self.encoder = _stack(config)
        if config.decoder == "hidden":
            # The seed: decoder cells read the top hidden state; Conv3d(nf -> C, (1, 3, 3)) head.
            self.decoder = _stack(config, in_channels=dims[-1])
            self.head = nn.Conv3d(dims[-1], config.patch_channels, (1, 3, 3), padding=(0, 1, 1))
        else:
            if not config.tie_decoder:
                self.decoder = _stack(config)
            self.head = nn.Conv2d(dims[-1], config.patch_channels, 1)
        self.patch_size = p

    # -- layout helpers ----------------------------------------------------------------------------
    def _fold(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C*p*p, H/p, W/p)."""
        return x if self.patch_size == 1 else F.pixel_unshuffle(x, self.patch_size)

    def _unfold(self, x: Tensor) -> Tensor:
        """(N, C*p*p, H/p, W/p) -> (N, C, H, W)."""
        return x if self.patch_size == 1 else F.pixel_shuffle(x, self.patch_size)

    @property
    def decoder_cells(self) -> nn.ModuleList:
        return self.encoder if self.config.decoder == "frame" and self.config.tie_decoder else self.decoder

    # -- forward -----------------------------------------------------------------------------------
    def forward(
        self,
        context: Tensor,
        horizon: int,
        target: Tensor | None = None,
        teacher_mask: Tensor | None = None,
        return_context: bool = False,
        clamp: bool = True,
    ) -> Tensor:
        """Predict ``horizon`` frames after ``context`` (the states, for inspection: :meth:`rollout`).

        Args:
            context: ``(B, T_ctx, C, H, W)`` in [0, 1].
            horizon: number of frames to predict (>= 1).
            target: ``(B, horizon, C, H, W)`` ground truth, only for teacher forcing in training.
            teacher_mask: ``(B, horizon - 1)`` bool; where True, step k+1 reads ``target[:, k]``
                instead of the model's own prediction (scheduled sampling). ``"frame"`` only.
            return_context: also return the next-frame predictions made while reading the context,
                ``(B, T_ctx - 1 + horizon, ...)`` for frames 2..T_ctx+horizon. ``"frame"`` only.
            clamp: clamp to [0, 1]. Training turns it off for ``"frame"`` models so that the linear
                head gets gradients everywhere (a sigmoid starves dark pixels and favours blank
                predictions); frames fed back are always clamped.

        Returns:
            ``(B, horizon, C, H, W)``, or ``(B, T_ctx - 1 + horizon, C, H, W)`` with ``return_context``.
        """
        return self._run(context, horizon, target, teacher_mask, return_context, clamp, False)[0]

    def rollout(self, context: Tensor, horizon: int) -> "Rollout":
        """Predict ``horizon`` frames and keep every layer's hidden states (for inspection):
        ``Rollout(frames (B, horizon, C, H, W), hidden [(B, T_steps, hidden_k, H/p, W/p)] per layer)``."""
        return Rollout(*self._run(context, horizon, None, None, False, True, True))

    def _run(self, context, horizon, target, teacher_mask, return_context, clamp, keep_hidden):
        """(prediction, hidden states or None): the one implementation behind forward and rollout."""
        if context.ndim != 5:
            raise ValueError(f"context must be (B, T, C, H, W), got {tuple(context.shape)}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if context.shape[2] != self.config.channels or context.shape[-1] % self.patch_size:
            raise ValueError(f"context shape {tuple(context.shape)} does not fit {self.config}")
        if self.config.decoder == "hidden":
            if target is not None or return_context:
                raise ValueError("the seed decoder has no teacher forcing and no context outputs")
            return self._forward_hidden(context, horizon, keep_hidden)
        return self._forward_frame(context, horizon, target, teacher_mask, return_context, clamp, keep_hidden)

    def _forward_hidden(self, context: Tensor, horizon: int, return_hidden: bool):
        b, t_ctx, c, h, w = context.shape
        enc: list[State | None] = [None] * len(self.encoder)
        dec: list[State | None] = [None] * len(self.decoder)
        trace: list[list[Tensor]] = [[] for _ in range(len(self.encoder) + len(self.decoder))]
        for t in range(t_ctx):
            top = _step(self.encoder, self._fold(context[:, t]), enc)  # (B, nf, H/p, W/p)
            if return_hidden:
                for k, s in enumerate(enc):
                    trace[k].append(s[0])
        x, outs = top, []
        for _ in range(horizon):
            x = _step(self.decoder, x, dec)  # the decoder reads its own top hidden state
            outs.append(x)
            if return_hidden:
                for k, s in enumerate(dec):
                    trace[len(self.encoder) + k].append(s[0])
        feats = torch.stack(outs, dim=2)  # (B, nf, horizon, H/p, W/p) for Conv3d
        y = torch.sigmoid(self.head(feats))  # (B, C*p*p, horizon, H/p, W/p)
        y = y.transpose(1, 2).flatten(0, 1)  # (B*horizon, C*p*p, H/p, W/p)
        pred = self._unfold(y).reshape(b, horizon, c, h, w)  # (B, horizon, C, H, W)
        # hidden: per layer (B, T_steps, hidden_k, H/p, W/p)
        return pred, ([torch.stack(tr, dim=1) for tr in trace if tr] if return_hidden else None)

    def _forward_frame(self, context, horizon, target, teacher_mask, return_context, clamp, return_hidden):
        b, t_ctx, c, h, w = context.shape
        states: list[State | None] = [None] * len(self.encoder)
        trace: list[list[Tensor]] = [[] for _ in self.encoder]
        outs: list[Tensor] = []

        def predict(x: Tensor, cells: nn.ModuleList) -> Tensor:
            top = _step(cells, self._fold(x), states)  # (B, hidden, H/p, W/p)
            if return_hidden:
                for k, s in enumerate(states):
                    trace[k].append(s[0])
            return self._unfold(conv2d(self.head, top))  # (B, C, H, W), unbounded

        for t in range(t_ctx):  # encoder: read the context; each step predicts the next frame
            y = predict(context[:, t], self.encoder)
            if return_context and t < t_ctx - 1:
                outs.append(y)
        cells = self.decoder_cells  # the decoder starts from the encoder's states
        for k in range(horizon):
            outs.append(y)
            if k == horizon - 1:
                break
            x = y.clamp(0.0, 1.0)
            if teacher_mask is not None and target is not None:
                m = teacher_mask[:, k].view(b, 1, 1, 1).to(x.dtype)  # (B, 1, 1, 1)
                x = m * target[:, k] + (1 - m) * x
            y = predict(x, cells)
        pred = torch.stack(outs, dim=1)  # (B, T_out, C, H, W)
        if clamp:
            pred = pred.clamp(0.0, 1.0)
        # hidden: per layer (B, T_steps, hidden_k, H/p, W/p)
        return pred, ([torch.stack(tr, dim=1) for tr in trace] if return_hidden else None)

    # -- saving and loading ------------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        config: ConvLSTMConfig | dict | None = None,
        map_location: str = "cpu",
        strict: bool = True,
    ) -> "ConvLSTMSeq2Seq":
        """A saved model from a local directory or a Hub repo id ``"user/name"``, in eval mode.

        The config comes from ``config.json`` (unless ``config`` is given), the weights strictly
        from ``model.safetensors`` (safetensors only: no pickle). Replaces the mixin's version, whose
        own config reading swallows Hub errors; a source that cannot be read raises
        :class:`framepred.hub.ModelSourceError` with a message meant for users.
        """
        return cls._from_pretrained(
            model_id=os.fspath(pretrained_model_name_or_path), revision=revision, cache_dir=cache_dir,
            force_download=force_download, local_files_only=local_files_only, token=token, config=config,
            map_location=map_location, strict=strict,
        )

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        config: ConvLSTMConfig | dict | None = None,
        map_location: str = "cpu",
        strict: bool = True,
    ) -> "ConvLSTMSeq2Seq":
        """Build from the config and load ``model.safetensors`` strictly (safetensors only: no pickle)."""
        import safetensors.torch

        needed = (WEIGHTS_NAME,) if config is not None else (CONFIG_NAME, WEIGHTS_NAME)
        folder = resolve(model_id, needed, revision=revision, cache_dir=cache_dir, force_download=force_download,
                         token=token, local_files_only=local_files_only)
        model = cls(read_config_file(folder / CONFIG_NAME, model_id) if config is None else config)
        safetensors.torch.load_model(model, str(folder / WEIGHTS_NAME), strict=strict, device=map_location)
        model.eval()
        return model

