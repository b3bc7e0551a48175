import numpy as np
import pytest
import torch

from framepred.config import ConvLSTMConfig
from framepred.inference import load_model, predict
from framepred.model import ConvLSTMCell, ConvLSTMSeq2Seq


def test_seed_preset_matches_the_seed_parameter_count():
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("seed"))
    assert model.num_parameters() == 1_036_097


@pytest.mark.parametrize("preset", ["tiny", "seed"])
@pytest.mark.parametrize("horizon", [1, 10, 25])
def test_prediction_shapes_and_range(preset, horizon):
    torch.manual_seed(0)
    cfg = ConvLSTMConfig.preset_config(preset)
    if preset == "seed":  # keep the test fast: same architecture, narrower
        cfg = ConvLSTMConfig(**{**cfg.to_dict(), "hidden_dims": (8, 8)})
    model = ConvLSTMSeq2Seq(cfg).eval()
    with torch.inference_mode():
        y = model(torch.rand(2, 10, 1, 64, 64), horizon)
    assert y.shape == (2, horizon, 1, 64, 64)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_cell_zero_state_and_gate_shapes():
    cell = ConvLSTMCell(3, 5, 3)
    h, c = cell(torch.rand(2, 3, 8, 8))
    assert h.shape == c.shape == (2, 5, 8, 8)
    assert cell.conv.out_channels == 20  # one convolution for the four gates


def test_rollout_feeds_predictions_back():
    """Horizons beyond 10 are a true rollout: the first 10 frames do not depend on the horizon,
    and teacher forcing with the model's own clamped outputs changes nothing."""
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    ctx = torch.rand(1, 10, 1, 64, 64)
    with torch.inference_mode():
        y10, y25 = model(ctx, 10), model(ctx, 25)
        torch.testing.assert_close(y25[:, :10], y10)
        forced = model(ctx, 10, target=y10, teacher_mask=torch.ones(1, 9, dtype=torch.bool))
        torch.testing.assert_close(forced, y10)
        ctx_out = model(ctx, 10, return_context=True)
    assert ctx_out.shape == (1, 19, 1, 64, 64)


def test_save_load_gives_identical_predictions(tmp_path):
    torch.manual_seed(1)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").is_file() and (tmp_path / "model.safetensors").is_file()
    loaded = load_model(tmp_path, device="cpu")
    assert loaded.config == model.config
    ctx = np.random.default_rng(0).random((10, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(predict(model, ctx, 12), predict(loaded, ctx, 12))


def test_load_is_strict_and_refuses_bad_sources(tmp_path):
    ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).save_pretrained(tmp_path / "a")
    other = ConvLSTMConfig(**{**ConvLSTMConfig.preset_config("tiny").to_dict(), "hidden_dims": (8, 4)})
    ConvLSTMSeq2Seq(other).save_pretrained(tmp_path / "b")
    # Weights of one architecture under another's config: a clear error, never a silent partial load.
    (tmp_path / "b" / "model.safetensors").write_bytes((tmp_path / "a" / "model.safetensors").read_bytes())
    with pytest.raises(RuntimeError):
        load_model(tmp_path / "b")
    (tmp_path / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_model(tmp_path / "c")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nowhere" / "x")


def test_hub_id_loads_offline_from_the_local_cache(tmp_path, monkeypatch):
    """A Hub repo id resolves through huggingface_hub's cache (HF_HUB_OFFLINE=1, no network)."""
    import shutil

    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = cache / "models--someone--framepred-tiny" / "snapshots" / commit
    torch.manual_seed(2)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    model.save_pretrained(tmp_path / "saved")
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tmp_path / "saved" / name, snap / name)
    (cache / "models--someone--framepred-tiny" / "refs").mkdir()
    (cache / "models--someone--framepred-tiny" / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    loaded = load_model("someone/framepred-tiny", device="cpu")
    ctx = np.random.default_rng(0).random((10, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(predict(loaded, ctx, 3), predict(model, ctx, 3))
    with pytest.raises(Exception):  # not cached and offline: an error, not a download
        load_model("someone/not-cached")


def test_read_config_is_the_one_reader_and_explains_bad_files(tiny_model_dir, tmp_path):
    """read_config (used by from_pretrained and the app) reads flat and mixin-nested config.json,
    and says what is wrong with a missing or bad one."""
    import json
    import shutil

    from framepred.hub import ModelSourceError, read_config

    cfg = ConvLSTMConfig.preset_config("tiny")
    assert read_config(tiny_model_dir) == cfg
    nested = tmp_path / "nested"
    shutil.copytree(tiny_model_dir, nested)
    (nested / "config.json").write_text(json.dumps({"config": {**cfg.to_dict(), "future_field": 1}}))
    assert read_config(nested) == cfg
    assert load_model(nested).config == cfg  # from_pretrained reads it the same way
    for text, message in (("{", "not valid JSON"), ("[1]", "must hold a JSON object"),
                          (json.dumps({**cfg.to_dict(), "patch_size": 0}), "patch_size must be a positive"),
                          (json.dumps({**cfg.to_dict(), "hidden_dims": "48"}), "hidden_dims must be a list")):
        (nested / "config.json").write_text(text)
        with pytest.raises(ValueError, match=message):
            read_config(nested)
    (nested / "config.json").unlink()
    with pytest.raises(ModelSourceError, match="missing config.json"):
        read_config(nested)


def test_predict_accepts_batches_and_uint8(tiny_model_dir):
    model = load_model(tiny_model_dir)
    ctx = np.random.default_rng(0).integers(0, 256, (3, 10, 64, 64), dtype=np.uint8)
    out = predict(model, ctx, 4, batch_size=2)
    assert out.shape == (3, 4, 64, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out[1], predict(model, ctx[1], 4), atol=1e-6)
    with pytest.raises(ValueError, match="context must be"):
        predict(model, np.zeros((10, 32, 32), np.float32), 4)
    with pytest.raises(ValueError, match="horizon"):
        predict(model, ctx[0], 0)


def test_rollout_returns_the_prediction_and_every_layers_states():
    from framepred.inference import predict, predict_with_states

    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    ctx = torch.rand(2, 10, 1, 64, 64)
    with torch.no_grad():
        out = model.rollout(ctx, 4)
        torch.testing.assert_close(out.frames, model(ctx, 4))
    assert [h.shape for h in out.hidden] == [(2, 13, 8, 16, 16)] * 2  # 10 + 4 - 1 steps read, per layer
    frames, hidden = predict_with_states(model, ctx[0, :, 0].numpy(), 4)
    np.testing.assert_allclose(frames, predict(model, ctx[0, :, 0].numpy(), 4), atol=1e-6)
    assert frames.shape == (4, 64, 64) and hidden[0].shape == (1, 13, 8, 16, 16)
