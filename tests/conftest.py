"""Shared test set-up: offline Hub, repo on sys.path, a tiny saved model."""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported anywhere
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An untrained tiny model saved the Hugging Face way (config.json + model.safetensors)."""
    from framepred.model import ConvLSTMConfig, ConvLSTMSeq2Seq

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny_model")
    ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).save_pretrained(d)
    return d
