"""Shared test set-up: offline Hub, a tiny saved model, the app against it.

``app`` and the package ``train`` (train/) are importable from the repo root, pytest's ``pythonpath``
(pyproject.toml); the library is the installed ``framepred`` package.
"""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported anywhere
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # tests talk to 127.0.0.1 only (no telemetry)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An untrained tiny model saved the Hugging Face way (config.json + model.safetensors)."""
    from framepred.config import ConvLSTMConfig
    from framepred.model import ConvLSTMSeq2Seq

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny_model")
    ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).save_pretrained(d)
    return d


# --------------------------------------------------------------------------------------------------
# The Gradio app (app.py) against a tiny model, never the real trained checkpoint
# --------------------------------------------------------------------------------------------------
APP_ENV = ("FRAMEPRED_CHECKPOINTS_DIR", "FRAMEPRED_MODEL", "FRAMEPRED_TEST_FILE")


@pytest.fixture(scope="session")
def app_checkpoints(tiny_model_dir, tmp_path_factory) -> Path:
    """A checkpoints/ folder holding the tiny model as ``default`` (with a training record over the
    demo's whole range) and a second tiny model ``other`` (trained at speed 1 only), to compare."""
    import json
    import shutil

    from framepred.config import ConvLSTMConfig
    from framepred.model import ConvLSTMSeq2Seq

    root = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(tiny_model_dir, root / "default")
    full = {"speed_range": [0.25, 3.0], "digits_range": [1, 3]}
    (root / "default" / "training.json").write_text(json.dumps({"global_step": 7, "val_mse": 123.4, "data": full}))
    torch.manual_seed(1)
    ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).save_pretrained(root / "other")
    speed1 = {"speed_range": [1.0, 1.0], "digits_range": [2, 2]}
    (root / "other" / "training.json").write_text(json.dumps({"global_step": 5, "val_mse": 150.0, "data": speed1}))
    return root


@pytest.fixture(scope="session")
def app_module(app_checkpoints):
    """``import app`` with FRAMEPRED_CHECKPOINTS_DIR pointing at the tiny model (env restored after)."""
    saved = {k: os.environ.get(k) for k in APP_ENV}
    for k in APP_ENV:
        os.environ.pop(k, None)
    os.environ["FRAMEPRED_CHECKPOINTS_DIR"] = str(app_checkpoints)
    import app

    yield app
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def app_url(app_module):
    """The demo served on a free port of 127.0.0.1 for the whole session."""
    from framepred.serving.launch import serve_in_process

    with serve_in_process(app_module.demo, **app_module.LAUNCH_KWARGS) as url:
        yield url


# httpx's default 5 s timeout is shorter than a busy 2-core CI machine can promise for a queue join;
# a timeout there is the test machine's hiccup, not the app's answer.
CLIENT_HTTP_TIMEOUT_S = 120


@pytest.fixture
def make_client():
    """A factory for gradio_client.Client with a timeout that survives a loaded machine."""
    from gradio_client import Client

    def make(url: str) -> "Client":
        return Client(url, verbose=False, httpx_kwargs={"timeout": CLIENT_HTTP_TIMEOUT_S})

    return make
