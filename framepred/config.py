"""The frozen :class:`ConvLSTMConfig` of a model, its presets and its ``config.json`` reader.

Saved as ``config.json`` beside the weights; a file may come from a user-supplied Hub repo, so every
field is checked here and a bad file gives one clear ``ValueError``. No torch import: reading a
config is cheap.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONFIG_NAME = "config.json"
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few hundred bytes; refuse to parse a huge one


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

    def layer_skips(self) -> tuple[int | None, ...]:
        """Per layer, where a step back up to a finer scale takes its skip from: the last layer
        below at that scale (None for every other layer)."""
        scales = self.layer_scales()
        return tuple(max(j for j in range(k) if scales[j] == scales[k]) if k and scales[k] < scales[k - 1]
                     else None for k in range(len(scales)))

    def layer_inputs(self) -> tuple[int, ...]:
        """Input channels of each layer: the patch channels, then the layer below's width; after a
        step back up, a quarter of it (pixel shuffle) plus the skip's width (:meth:`layer_skips`)."""
        dims = self.hidden_dims
        return (self.patch_channels, *(
            dims[k - 1] if skip is None else dims[k - 1] // 4 + dims[skip]
            for k, skip in enumerate(self.layer_skips()) if k))

    @classmethod
    def preset_config(cls, name: str) -> "ConvLSTMConfig":
        """The named preset, one of ``PRESETS`` (seed, default, v1, v3, tiny)."""
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
    # Ours (v2, checkpoints/v2): patch 4 (16x16 states), 4 tied layers of 64, 3x3,
    # autoregressive frame rollout.
    "default": ConvLSTMConfig(
        patch_size=4, hidden_dims=(64, 64, 64, 64), kernel_size=3, decoder="frame", preset="default"
    ),
    # v1 (checkpoints/v1-speed1): the same design, 48 channels per layer.
    "v1": ConvLSTMConfig(
        patch_size=4, hidden_dims=(48, 48, 48, 48), kernel_size=3, decoder="frame", preset="v1"
    ),
    # v3's design (the pilot winner; the shipped checkpoints/default): patches of 8 (8x8 states),
    # 4 tied layers of 128, 3x3; the same arithmetic as default (10.78 against 10.41 GFLOP per
    # 10 -> 10), twice the reach in pixels.
    "v3": ConvLSTMConfig(
        patch_size=8, hidden_dims=(128, 128, 128, 128), kernel_size=3, decoder="frame", preset="v3"
    ),
    # For tests: small and fast.
    "tiny": ConvLSTMConfig(
        patch_size=4, hidden_dims=(8, 8), kernel_size=3, decoder="frame", preset="tiny"
    ),
}


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


def read_config_file(path: str | Path, source: str | None = None) -> ConvLSTMConfig:
    """Parse the config file ``path``; errors name ``source`` (e.g. a Hub id, not its cache path)."""
    path = Path(path)
    origin = f"{path.parent if source is None else source}: {CONFIG_NAME}"
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"{origin} is larger than {MAX_CONFIG_BYTES} bytes")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{origin} is not valid JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{origin} is not UTF-8 text") from None
    return config_from_dict(raw, origin)
