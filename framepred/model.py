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

Tensors are ``(B, T, C, H, W)`` float32 in [0, 1] at the public boundary.
"""

from __future__ import annotations

import json
import os
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import Tensor, nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class ConvLSTMConfig:
    """Architecture of a :class:`ConvLSTMSeq2Seq`; saved as ``config.json`` beside the weights."""

    image_size: int = 64
    channels: int = 1
    patch_size: int = 4  # space-to-depth factor: 64x64x1 frames -> 16x16x16 for patch 4
    hidden_dims: tuple[int, ...] = (64, 64, 64, 64)  # encoder stack, bottom to top
    kernel_size: int = 3
    decoder: str = "frame"  # "frame": feed predicted frames back; "hidden": the seed's decoder
    tie_decoder: bool = True  # "frame" only: the decoder stack is the encoder stack
    preset: str = field(default="custom", compare=False)  # a label, for model cards and the UI

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        if self.decoder not in ("frame", "hidden"):
            raise ValueError(f"decoder must be 'frame' or 'hidden', got {self.decoder!r}")
        if self.image_size % self.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so that states keep their size")
        if not self.hidden_dims:
            raise ValueError("hidden_dims must name at least one layer")

    @property
    def patch_channels(self) -> int:
        return self.channels * self.patch_size**2

    @classmethod
    def preset_config(cls, name: str) -> "ConvLSTMConfig":
        """The named preset: ``seed``, ``default`` or ``tiny``."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return PRESETS[name]

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ConvLSTMConfig] = {
    # holmdk EncoderDecoderConvLSTM: full 64x64 states, nf=64, 2 encoder + 2 decoder cells.
    "seed": ConvLSTMConfig(
        patch_size=1, hidden_dims=(64, 64), kernel_size=3, decoder="hidden", tie_decoder=False,
        preset="seed",
    ),
    # Ours: patch 4 (16x16 states), 4 tied layers of 48, 3x3, autoregressive frame rollout.
    "default": ConvLSTMConfig(
        patch_size=4, hidden_dims=(48, 48, 48, 48), kernel_size=3, decoder="frame", preset="default"
    ),
    # For tests: small and fast.
    "tiny": ConvLSTMConfig(
        patch_size=4, hidden_dims=(8, 8), kernel_size=3, decoder="frame", preset="tiny"
    ),
}

State = tuple[Tensor, Tensor]


# --------------------------------------------------------------------------------------------------
# Fast inference convolution (CPU)
# --------------------------------------------------------------------------------------------------
# At batch 1, PyTorch sends some of our small float32 convolutions (the first layer's, the 1x1 head)
# to its slow im2col path, and every oneDNN call reorders the weights into oneDNN's blocked layout
# again. Without autograd on CPU we therefore call oneDNN directly with weights reordered once per
# (dtype, input shape, weight version) and cached outside the module (state_dict, pickling and
# deepcopy never see the cache). Training (autograd on) and other devices use ``nn.Conv2d``.
_PREPACKED: "weakref.WeakKeyDictionary[nn.Conv2d, dict]" = weakref.WeakKeyDictionary()
_FAST_CONV = {"enabled": torch.backends.mkldnn.is_available(), "failed": False}


def set_fast_conv(enabled: bool) -> None:
    """Turn the cached-oneDNN inference convolution on or off (on by default where available)."""
    _FAST_CONV["enabled"] = bool(enabled) and torch.backends.mkldnn.is_available()
    _PREPACKED.clear()


def _fast_conv_dtype(conv: nn.Conv2d, x: Tensor) -> torch.dtype | None:
    """The dtype to run ``conv`` in through oneDNN, or None for the ordinary module call."""
    if (not _FAST_CONV["enabled"] or _FAST_CONV["failed"] or torch.is_grad_enabled()
            or x.device.type != "cpu" or not torch.backends.mkldnn.enabled
            or conv.padding_mode != "zeros" or isinstance(conv.padding, str)):
        return None
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    if dtype not in (torch.float32, torch.bfloat16) or conv.weight.dtype != torch.float32:
        return None
    if conv.weight.is_inference():  # made under inference_mode: no version counter to key the cache
        return None
    return dtype


def conv2d(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)``, through oneDNN with cached reordered weights when autograd is off on CPU.

    Same arithmetic as ``conv(x)`` up to float rounding; under CPU autocast (bf16) the output is
    bf16 like ``conv(x)``'s.
    """
    dtype = _fast_conv_dtype(conv, x)
    if dtype is None:
        return conv(x)
    w, b = conv.weight, conv.bias
    key = (dtype, tuple(x.shape), w._version, w.data_ptr(), None if b is None else (b._version, b.data_ptr()))
    entry = _PREPACKED.get(conv)
    try:
        if entry is None or entry["key"] != key:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                w.detach().to(dtype), list(conv.padding), list(conv.stride), list(conv.dilation),
                conv.groups, list(x.shape))
            entry = {"key": key, "w": packed, "b": None if b is None else b.detach().to(dtype)}
            _PREPACKED[conv] = entry
        return torch.ops.mkldnn._convolution_pointwise(
            x.to(dtype).contiguous(), entry["w"], entry["b"], list(conv.padding), list(conv.stride),
            list(conv.dilation), conv.groups, "none", [], "")
    except (RuntimeError, AttributeError, NotImplementedError):  # e.g. a build without these ops
        _FAST_CONV["failed"] = True
        _PREPACKED.clear()
        return conv(x)


class ConvLSTMCell(nn.Module):
    """ConvLSTM cell (Shi et al. 2015) as in the seed: one convolution over ``cat([x, h])`` gives
    the input, forget, output and cell gates."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.conv = nn.Conv2d(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
            padding=kernel_size // 2, bias=bias,
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


def _stack(in_channels: int, hidden_dims: tuple[int, ...], kernel_size: int) -> nn.ModuleList:
    dims = (in_channels, *hidden_dims)
    return nn.ModuleList(ConvLSTMCell(dims[i], dims[i + 1], kernel_size) for i in range(len(hidden_dims)))


def _step(cells: nn.ModuleList, x: Tensor, states: list[State | None]) -> Tensor:
    """Run one time step through a stack, updating ``states`` in place; returns the top hidden."""
    for k, cell in enumerate(cells):
        states[k] = cell(x, states[k])
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
            config = ConvLSTMConfig(**config)
        self.config = config
        p, k, dims = config.patch_size, config.kernel_size, config.hidden_dims
        self.encoder = _stack(config.patch_channels, dims, k)
        if config.decoder == "hidden":
            # The seed: decoder cells read the top hidden state; Conv3d(nf -> C, (1, 3, 3)) head.
            self.decoder = _stack(dims[-1], dims, k)
            self.head = nn.Conv3d(dims[-1], config.patch_channels, (1, 3, 3), padding=(0, 1, 1))
        else:
            if not config.tie_decoder:
                self.decoder = _stack(config.patch_channels, dims, k)
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
        return_hidden: bool = False,
    ):
        """Predict ``horizon`` frames after ``context``.

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
            return_hidden: also return each layer's hidden states over all steps for inspection,
                a list of ``(B, T_steps, hidden_k, H/p, W/p)``, one per layer.

        Returns:
            ``(B, horizon, C, H, W)`` (or with the context predictions), plus the hidden list when
            ``return_hidden``.
        """
        if context.ndim != 5:
            raise ValueError(f"context must be (B, T, C, H, W), got {tuple(context.shape)}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if context.shape[2] != self.config.channels or context.shape[-1] % self.patch_size:
            raise ValueError(f"context shape {tuple(context.shape)} does not fit {self.config}")
        if self.config.decoder == "hidden":
            if target is not None or return_context:
                raise ValueError("the seed decoder has no teacher forcing and no context outputs")
            return self._forward_hidden(context, horizon, return_hidden)
        return self._forward_frame(context, horizon, target, teacher_mask, return_context, clamp, return_hidden)

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
        if return_hidden:
            return pred, [torch.stack(tr, dim=1) for tr in trace if tr]
        return pred

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
        if return_hidden:
            return pred, [torch.stack(tr, dim=1) for tr in trace]
        return pred

    # -- saving and loading ------------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

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
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ) -> "ConvLSTMSeq2Seq":
        """Build from config and load ``model.safetensors`` strictly (safetensors only: no pickle)."""
        import safetensors.torch

        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, WEIGHTS_NAME)
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"{model_id} has no {WEIGHTS_NAME}")
        else:
            weights = hf_hub_download(
                repo_id=model_id, filename=WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                force_download=force_download, token=token, local_files_only=local_files_only,
            )
        missing, unexpected = safetensors.torch.load_model(model, weights, strict=strict, device=map_location)
        model.eval()
        return model


def read_config(directory: str | os.PathLike) -> ConvLSTMConfig:
    """Read ``config.json`` of a saved model directory (as written by ``save_pretrained``)."""
    with open(Path(directory) / CONFIG_NAME) as f:
        raw = json.load(f)
    raw = raw.get("config", raw)
    return ConvLSTMConfig(**{k: v for k, v in raw.items() if k in ConvLSTMConfig.__dataclass_fields__})


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
    from dataclasses import replace

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
