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
import numbers
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from .fast_conv import conv2d

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def _positive_int(name: str, value: object) -> int:
    """``value`` as an int if it is a whole number >= 1 (not a bool, not a float), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


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
    # Reach per step (v3). Empty tuples mean "all 1": older config.json files stay valid as they are.
    dilations: tuple[int, ...] = ()  # per layer: dilation of the recurrent convolution
    scales: tuple[int, ...] = ()  # per layer: cell size in patches, 1 or 2 (2: stride-2 down, back up)
    coarse: int = 0  # >1: each gate also reads its h pooled by this factor (3x3 conv, zero-initialised)
    preset: str = field(default="custom", compare=False)  # a label, for model cards and the UI

    def __post_init__(self) -> None:
        # Configs also come from config.json files (user-supplied Hub repos): check every type here,
        # so that a bad file gives one clear ValueError instead of a failure deep inside torch.
        for name in ("image_size", "channels", "patch_size", "kernel_size"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if isinstance(self.hidden_dims, (str, bytes, dict)) or not hasattr(self.hidden_dims, "__iter__"):
            raise ValueError(f"hidden_dims must be a list of layer widths, got {self.hidden_dims!r}")
        object.__setattr__(self, "hidden_dims", tuple(_positive_int("hidden_dims", h) for h in self.hidden_dims))
        if not isinstance(self.tie_decoder, bool):
            raise ValueError(f"tie_decoder must be true or false, got {self.tie_decoder!r}")
        if not isinstance(self.preset, str):
            raise ValueError(f"preset must be a string, got {self.preset!r}")
        if self.decoder not in ("frame", "hidden"):
            raise ValueError(f"decoder must be 'frame' or 'hidden', got {self.decoder!r}")
        if self.image_size % self.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so that states keep their size")
        if not self.hidden_dims:
            raise ValueError("hidden_dims must name at least one layer")
        n = len(self.hidden_dims)
        for name in ("dilations", "scales"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise ValueError(f"{name} must be a list with one entry per layer, got {value!r}")
            value = tuple(_positive_int(name, v) for v in value)
            if value and len(value) != n:
                raise ValueError(f"{name} must have one entry per layer ({n}), got {value!r}")
            object.__setattr__(self, name, value)
        if isinstance(self.coarse, bool) or not isinstance(self.coarse, numbers.Integral) or self.coarse < 0:
            raise ValueError(f"coarse must be 0 (off) or a pooling factor >= 2, got {self.coarse!r}")
        object.__setattr__(self, "coarse", int(self.coarse))
        cells = self.image_size // self.patch_size
        if self.coarse == 1 or (self.coarse and cells % self.coarse):
            raise ValueError(f"coarse must be 0 or a factor >= 2 of the state size {cells}, got {self.coarse}")
        if self.scales:
            if set(self.scales) - {1, 2} or self.scales[0] != 1 or self.scales[-1] != 1:
                raise ValueError(f"scales must be 1 or 2 per layer, starting and ending at 1, got {self.scales}")
            if self.decoder != "frame" or not self.tie_decoder or cells % 2:
                raise ValueError("scales need a tied 'frame' decoder and an even state size")
            for k in range(1, n):
                if self.scales[k] < self.scales[k - 1] and self.hidden_dims[k - 1] % 4:
                    raise ValueError("a layer before a step back up needs a width divisible by 4")

    @property
    def patch_channels(self) -> int:
        return self.channels * self.patch_size**2

    def layer_scales(self) -> tuple[int, ...]:
        return self.scales or (1,) * len(self.hidden_dims)

    def layer_dilations(self) -> tuple[int, ...]:
        return self.dilations or (1,) * len(self.hidden_dims)

    def layer_inputs(self) -> tuple[int, ...]:
        """Input channels of each layer: the patch channels, then the layer below's width; after a
        step back up, a quarter of it (pixel shuffle) plus the skip from the last layer at that scale."""
        scales, dims = self.layer_scales(), self.hidden_dims
        ins = [self.patch_channels]
        for k in range(1, len(dims)):
            if scales[k] < scales[k - 1]:
                skip = max(j for j in range(k) if scales[j] == scales[k])
                ins.append(dims[k - 1] // 4 + dims[skip])
            else:
                ins.append(dims[k - 1])
        return tuple(ins)

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
    # Ours (v2, checkpoints/default): patch 4 (16x16 states), 4 tied layers of 64, 3x3,
    # autoregressive frame rollout.
    "default": ConvLSTMConfig(
        patch_size=4, hidden_dims=(64, 64, 64, 64), kernel_size=3, decoder="frame", preset="default"
    ),
    # v1 (checkpoints/v1-speed1): the same design, 48 channels per layer.
    "v1": ConvLSTMConfig(
        patch_size=4, hidden_dims=(48, 48, 48, 48), kernel_size=3, decoder="frame", preset="v1"
    ),
    # For tests: small and fast.
    "tiny": ConvLSTMConfig(
        patch_size=4, hidden_dims=(8, 8), kernel_size=3, decoder="frame", preset="tiny"
    ),
}

State = tuple[Tensor, Tensor]


class Rollout(NamedTuple):
    """A prediction with the states behind it (:meth:`ConvLSTMSeq2Seq.rollout`)."""

    frames: Tensor  # (B, horizon, C, H, W) in [0, 1]
    hidden: list[Tensor]  # per layer (B, T_steps, hidden_k, H/p, W/p)


class ConvLSTMCell(nn.Module):
    """ConvLSTM cell (Shi et al. 2015) as in the seed: one convolution over ``cat([x, h])`` gives
    the input, forget, output and cell gates."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int, bias: bool = True,
                 dilation: int = 1, coarse: int = 0):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.conv = nn.Conv2d(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
            padding=dilation * (kernel_size // 2), dilation=dilation, bias=bias,
        )
        # The coarse branch: the gates also see h averaged over coarse x coarse cells, through a 3x3
        # convolution at that scale (reach +-coarse cells for 1/coarse^2 of the arithmetic). Zero at
        # start, so that a trained model extended with it predicts exactly as before.
        self.coarse = coarse
        if coarse:
            self.coarse_conv = nn.Conv2d(hidden_channels, 4 * hidden_channels, 3, padding=1, bias=False)
            nn.init.zeros_(self.coarse_conv.weight)

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
        if self.coarse:
            g = conv2d(self.coarse_conv, F.avg_pool2d(h, self.coarse))  # (B, 4*hidden, H/f, W/f)
            gates = gates + F.interpolate(g.to(c.dtype), scale_factor=self.coarse, mode="nearest")
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
    """The cells of one stack; ``in_channels`` replaces the first layer's input (the seed's decoder)."""
    ins = list(config.layer_inputs())
    if in_channels is not None:
        ins[0] = in_channels
    return nn.ModuleList(
        ConvLSTMCell(i, h, config.kernel_size, dilation=d, coarse=config.coarse)
        for i, h, d in zip(ins, config.hidden_dims, config.layer_dilations()))


def _downs(config: ConvLSTMConfig) -> nn.ModuleDict:
    """Stride-2 3x3 convolutions into each layer that works at a coarser scale than the one below."""
    scales, dims = config.layer_scales(), config.hidden_dims
    return nn.ModuleDict({
        str(k): nn.Conv2d(dims[k - 1], dims[k - 1], 3, stride=2, padding=1)
        for k in range(1, len(dims)) if scales[k] > scales[k - 1]})


def _step(cells: nn.ModuleList, x: Tensor, states: list[State | None],
          scales: tuple[int, ...] = (), downs: nn.ModuleDict | None = None) -> Tensor:
    """Run one time step through a stack, updating ``states`` in place; returns the top hidden.

    With ``scales``, x steps down (``downs``) into a coarser layer and back up by pixel shuffle,
    joined with the hidden state of the last layer at the finer scale (a U-Net skip)."""
    for k, cell in enumerate(cells):
        if scales and k and scales[k] > scales[k - 1]:
            x = conv2d(downs[str(k)], x)  # (B, C, H/2, W/2)
        elif scales and k and scales[k] < scales[k - 1]:
            skip = max(j for j in range(k) if scales[j] == scales[k])
            x = torch.cat([F.pixel_shuffle(x, 2), states[skip][0]], dim=1)  # (B, C/4 + C_skip, H, W)
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
        p, dims = config.patch_size, config.hidden_dims
        self.encoder = _stack(config)
        if config.scales:
            self.downs = _downs(config)
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
        return pred, ([torch.stack(tr, dim=1) for tr in trace if tr] if return_hidden else None)

    def _forward_frame(self, context, horizon, target, teacher_mask, return_context, clamp, return_hidden):
        b, t_ctx, c, h, w = context.shape
        states: list[State | None] = [None] * len(self.encoder)
        trace: list[list[Tensor]] = [[] for _ in self.encoder]
        outs: list[Tensor] = []

        def predict(x: Tensor, cells: nn.ModuleList) -> Tensor:
            top = _step(cells, self._fold(x), states, self.config.scales, getattr(self, "downs", None))
            # top: (B, hidden, H/p, W/p)
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

        The config comes from :func:`read_config` (unless ``config`` is given), the weights strictly
        from ``model.safetensors`` (safetensors only: no pickle). Replaces the mixin's version, whose
        own config reading swallows Hub errors; a source that cannot be read raises
        :class:`ModelSourceError` with a message meant for users.
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
        folder = _resolve(model_id, needed, revision=revision, cache_dir=cache_dir, force_download=force_download,
                          token=token, local_files_only=local_files_only)
        model = cls(_config_file(folder / CONFIG_NAME, model_id) if config is None else config)
        safetensors.torch.load_model(model, str(folder / WEIGHTS_NAME), strict=strict, device=map_location)
        model.eval()
        return model


# --------------------------------------------------------------------------------------------------
# Model sources: a local folder or a Hugging Face Hub repo id
# --------------------------------------------------------------------------------------------------
# Everything a served model may have beside its weights (the model card and the measured facts);
# model_dir() downloads these and nothing else from a Hub repo.
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, "README.md", "eval.json", "training.json", "grid.json",
               "learning_curve.png", "training_notes.md")
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few hundred bytes; refuse to parse a huge one


class ModelSourceError(FileNotFoundError, ValueError):
    """A model source that cannot be read: no such folder, a missing file, or a Hub repo that cannot
    be downloaded. Its message is meant for users. Both a ``FileNotFoundError`` (files are missing)
    and a ``ValueError`` (the user named a bad source), so that callers catching either see it."""


def is_hub_id(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a Hub repo ``"user/name"`` rather than a local path."""
    text = os.fspath(source)
    if os.path.exists(text) or text.startswith((".", "/", "~")) or text.count("/") != 1:
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def _local_dir(source: str) -> Path | None:
    """``source`` as a local directory; None for a Hub id; ModelSourceError for anything else."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if is_hub_id(source):
        return None
    raise ModelSourceError(f"{source}: no such model folder, and not a Hub repo id 'user/name'")


def config_from_dict(raw: object, origin: str = CONFIG_NAME) -> ConvLSTMConfig:
    """The :class:`ConvLSTMConfig` in a parsed ``config.json``; ValueError naming ``origin`` if not.

    Accepts the flat dict ``save_pretrained`` writes and PyTorchModelHubMixin's ``{"config": {...}}``
    nesting; keys that are not config fields are ignored (files from newer versions stay readable).
    """
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]
    if not isinstance(raw, dict):
        raise ValueError(f"{origin} must hold a JSON object, got {type(raw).__name__}")
    try:
        return ConvLSTMConfig(**{k: v for k, v in raw.items() if k in ConvLSTMConfig.__dataclass_fields__})
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{origin} does not describe a framepred model: {e}") from None


def read_config(
    source: str | os.PathLike,
    *,
    revision: str | None = None,
    local_files_only: bool = False,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    force_download: bool = False,
) -> ConvLSTMConfig:
    """The config of a saved model: a local directory's ``config.json``, or a Hub repo's (only that
    file is downloaded, into the Hugging Face cache).

    Raises :class:`ModelSourceError` when the file cannot be had (no such folder, no config.json,
    Hub unreachable or repo not found) and ``ValueError`` when it is not a valid config.
    """
    source = os.fspath(source)
    folder = _resolve(source, (CONFIG_NAME,), revision=revision, cache_dir=cache_dir,
                      force_download=force_download, token=token, local_files_only=local_files_only)
    return _config_file(folder / CONFIG_NAME, source)


def _config_file(path: Path, source: str) -> ConvLSTMConfig:
    """Parse the config file ``path`` of ``source`` (named in errors: a Hub id, not its cache path)."""
    origin = f"{source}: {CONFIG_NAME}"
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"{origin} is larger than {MAX_CONFIG_BYTES} bytes")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{origin} is not valid JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{origin} is not UTF-8 text") from None
    return config_from_dict(raw, origin)


def model_dir(
    source: str | os.PathLike,
    revision: str | None = None,
    *,
    local_files_only: bool = False,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
) -> Path:
    """A local folder holding the model ``source`` and its card files (:data:`MODEL_FILES`).

    A local directory is returned as it is. For a Hub repo id, the files of :data:`MODEL_FILES` the
    repo has are downloaded into the Hugging Face cache (once; later calls check for updates, or
    with ``HF_HUB_OFFLINE=1`` read the cache only) and the snapshot folder is returned. Raises
    :class:`ModelSourceError` when the source cannot be had or lacks config.json / model.safetensors.
    """
    source = os.fspath(source)
    local = _local_dir(source)
    if local is not None:
        return local
    return _resolve(source, (CONFIG_NAME, WEIGHTS_NAME), patterns=MODEL_FILES, revision=revision,
                    cache_dir=cache_dir, force_download=False, token=token, local_files_only=local_files_only)


def _resolve(source: str, needed: tuple[str, ...], *, patterns: tuple[str, ...] | None = None,
             revision: str | None, cache_dir: str | Path | None, force_download: bool,
             token: str | bool | None, local_files_only: bool) -> Path:
    """A local folder holding the files ``needed`` of ``source``: the directory itself, or the Hub
    repo's snapshot in the Hugging Face cache with ``patterns`` (default: ``needed``) downloaded.

    ``snapshot_download`` even for one file: it asks the Hub's API first, which fails at once when the
    Hub cannot be reached, where ``hf_hub_download`` retries a refused connection for ~25 s.
    """
    local = _local_dir(source)
    if local is None:
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(
                source, revision=revision, allow_patterns=list(patterns or needed), cache_dir=cache_dir,
                force_download=force_download, token=token, local_files_only=local_files_only))
        except _hub_errors() as e:
            raise _hub_failure(source, e, revision=revision, local_files_only=local_files_only) from None
    else:
        folder = local
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        where = source if local is not None else f"{source} on the Hugging Face Hub"
        raise ModelSourceError(f"{where} is not a saved model: missing {', '.join(missing)}")
    return folder


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What a Hub download raises when the Hub or the repo is not there. Hub and network errors
    are OSErrors, except those of httpx (huggingface_hub 1.x+), listed explicitly."""
    from huggingface_hub.utils import EntryNotFoundError, HFValidationError

    errors: list[type[BaseException]] = [OSError, EntryNotFoundError, HFValidationError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _hub_failure(repo_id: str, error: BaseException, *, revision: str | None = None,
                 local_files_only: bool = False) -> ModelSourceError:
    """One user-facing sentence for a failed Hub download: what failed, why, and what to try."""
    from huggingface_hub import constants
    from huggingface_hub.utils import (
        EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"could not download '{repo_id}' from the Hugging Face Hub ({constants.ENDPOINT})"
    if isinstance(error, GatedRepoError):
        return ModelSourceError(f"{what}: the repository is gated; accept its terms and log in (HF_TOKEN)")
    if isinstance(error, RepositoryNotFoundError):
        return ModelSourceError(f"{what}: no such model repository (or it is private: log in with HF_TOKEN), "
                                f"and no local folder '{repo_id}' either")
    if isinstance(error, RevisionNotFoundError):
        return ModelSourceError(f"{what}: the repository has no revision '{revision}'")
    if local_files_only or constants.HF_HUB_OFFLINE:
        return ModelSourceError(f"{what}: offline (HF_HUB_OFFLINE=1 or local_files_only) and no complete copy "
                                f"in the local cache ({constants.HF_HUB_CACHE}); download it once with the Hub "
                                f"reachable")
    root = error  # the innermost cause (e.g. "ConnectionRefusedError: ...") says most in one line
    for _ in range(20):  # bounded: exception chains can loop
        if (root.__cause__ or root.__context__) is None:
            break
        root = root.__cause__ or root.__context__
    reason = " ".join(f"{type(root).__name__}: {root}".split())[:200]  # one line, bounded
    if isinstance(error, EntryNotFoundError) and not isinstance(error, LocalEntryNotFoundError):
        return ModelSourceError(f"{what}: a file it lists is missing ({reason})")
    return ModelSourceError(f"{what}: {reason}; is the Hub reachable, or set HF_HUB_OFFLINE=1 with a cached copy")


def push_folder(folder: str | os.PathLike, repo_id: str, *, token: str | None = None,
                private: bool | None = None, commit_message: str = "Upload framepred model") -> str:
    """Upload a whole exported model folder (weights, config, card, metrics, curve) to a Hub model
    repo, creating the repo if needed; returns the commit URL.

    Refuses a folder without config.json, model.safetensors and a README.md model card, or whose
    config does not load, so that what lands on the Hub is a documented, loadable model.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME, "README.md") if not (folder / n).is_file()]
    if missing:
        raise ModelSourceError(f"{folder} is not ready to push: missing {', '.join(missing)}")
    read_config(folder)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))


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


@torch.no_grad()
def add_coarse_branch(model: ConvLSTMSeq2Seq, coarse: int) -> ConvLSTMSeq2Seq:
    """A copy of ``model`` whose gates also read a coarse (pooled) view of their hidden state; the
    new branch is zero, so the copy predicts exactly what ``model`` predicts until it trains on."""
    from dataclasses import replace

    if model.config.coarse:
        raise ValueError("the model already has a coarse branch")
    new = ConvLSTMSeq2Seq(replace(model.config, coarse=int(coarse)))
    missing, unexpected = new.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not k.endswith("coarse_conv.weight") for k in missing):
        raise ValueError(f"state mismatch: missing {missing}, unexpected {unexpected}")
    return new.train(model.training)
