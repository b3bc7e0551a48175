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

    @property
    def patch_channels(self) -> int:
        return self.channels * self.patch_size**2

    @classmethod
    def preset_config(cls, name: str) -> "ConvLSTMConfig":
        """The named preset, one of ``PRESETS`` (seed, v1, v2, v3, default = v3, tiny)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return PRESETS[name]

    def to_dict(self) -> dict:
        return asdict(self)


# One preset per shipped model, named after it, plus the seed's design and a small one for tests.
# Each model's training recipe (learning rate, schedule, EMA, data) is train/train.py's RECIPES.
PRESETS: dict[str, ConvLSTMConfig] = {
    # holmdk EncoderDecoderConvLSTM: full 64x64 states, nf=64, 2 encoder + 2 decoder cells.
    "seed": ConvLSTMConfig(
        patch_size=1, hidden_dims=(64, 64), kernel_size=3, decoder="hidden", tie_decoder=False,
        preset="seed",
    ),
    # v1 (checkpoints/v1-speed1): patches of 4 (16x16 states), 4 tied layers of 48, 3x3,
    # autoregressive frame rollout.
    "v1": ConvLSTMConfig(
        patch_size=4, hidden_dims=(48, 48, 48, 48), kernel_size=3, decoder="frame", preset="v1"
    ),
    # v2 (checkpoints/v2): v1's design with 64 channels per layer.
    "v2": ConvLSTMConfig(
        patch_size=4, hidden_dims=(64, 64, 64, 64), kernel_size=3, decoder="frame", preset="v2"
    ),
    # v3 (checkpoints/default, the pilot winner): patches of 8 (8x8 states), 4 tied layers of 128,
    # 3x3; the same arithmetic as v2 (10.78 against 10.41 GFLOP per 10 -> 10), twice the reach in
    # pixels per step.
    "v3": ConvLSTMConfig(
        patch_size=8, hidden_dims=(128, 128, 128, 128), kernel_size=3, decoder="frame", preset="v3"
    ),
    # For tests: small and fast.
    "tiny": ConvLSTMConfig(
        patch_size=4, hidden_dims=(8, 8), kernel_size=3, decoder="frame", preset="tiny"
    ),
}
# "default" is no design of its own: it names what checkpoints/default holds (its label stays "v3").
PRESETS["default"] = PRESETS["v3"]

# Fields of the pilot designs that no shipped model uses, removed after commit f8f6d61: the value
# each had when off. A config.json that still says "off" loads as before; one that turns a design
# on describes a model this version cannot build, and is refused rather than loaded without it.
REMOVED_FIELDS: dict[str, tuple[str, object]] = {
    "dilations": ("per-layer dilations", ()),
    "scales": ("two-scale stacks", ()),
    "coarse": ("coarse gate branches", 0),
}


def _removed_design(raw: dict) -> str | None:
    """The first removed design that ``raw`` (a parsed config.json) turns on, as a message; else None."""
    for key, (design, off) in REMOVED_FIELDS.items():
        value = raw.get(key, off)
        if isinstance(value, (list, tuple)):  # per layer: all ones is the same as empty
            value = () if all(v == 1 and not isinstance(v, bool) for v in value) else tuple(value)
        if value is not None and value != off:
            return (f"{key}={raw[key]!r} asks for {design}, which this framepred version does not support "
                    f"(the pilot designs were removed after commit f8f6d61)")
    return None


def config_from_dict(raw: object, origin: str = CONFIG_NAME) -> ConvLSTMConfig:
    """The :class:`ConvLSTMConfig` in a parsed ``config.json``; ValueError naming ``origin`` if not.

    Accepts the flat dict ``save_pretrained`` writes and PyTorchModelHubMixin's ``{"config": {...}}``
    nesting; keys that are not config fields are ignored (files from newer versions stay readable),
    except the removed pilot designs' (:data:`REMOVED_FIELDS`) when a file switches one on.
    """
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]
    if not isinstance(raw, dict):
        raise ValueError(f"{origin} must hold a JSON object, got {type(raw).__name__}")
    removed = _removed_design(raw)
    if removed:
        raise ValueError(f"{origin}: {removed}")
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
