"""framepred.convert_seed: a checkpoint of the seed repo becomes a served ``seed`` model that
predicts what the seed's own EncoderDecoderConvLSTM predicts; pickled code is never run."""

from __future__ import annotations

import argparse
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from framepred import convert_seed, inference


# --------------------------------------------------------------------------------------------------
# The seed's model, written from its description (holmdk/Video-Prediction-using-PyTorch), with its
# own parameter names: what a checkpoint of its Lightning script holds under "model.".
# --------------------------------------------------------------------------------------------------
class SeedCell(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.conv = nn.Conv2d(input_dim + hidden_dim, 4 * hidden_dim, 3, padding=1, bias=True)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = torch.split(self.conv(torch.cat([x, h], dim=1)), self.hidden_dim, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class SeedEncoderDecoderConvLSTM(nn.Module):
    def __init__(self, nf: int = 64, in_chan: int = 1):
        super().__init__()
        self.nf = nf
        self.encoder_1_convlstm = SeedCell(in_chan, nf)
        self.encoder_2_convlstm = SeedCell(nf, nf)
        self.decoder_1_convlstm = SeedCell(nf, nf)
        self.decoder_2_convlstm = SeedCell(nf, nf)
        self.decoder_CNN = nn.Conv3d(nf, 1, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x, future_seq: int):
        """x (b, t, c, h, w) -> (b, 1, future_seq, h, w), as the seed returns it."""
        b, seq_len, _, h, w = x.shape
        zeros = lambda: (x.new_zeros(b, self.nf, h, w), x.new_zeros(b, self.nf, h, w))  # noqa: E731
        s1, s2, s3, s4 = zeros(), zeros(), zeros(), zeros()
        for t in range(seq_len):
            s1 = self.encoder_1_convlstm(x[:, t], s1)
            s2 = self.encoder_2_convlstm(s1[0], s2)
        vector, outputs = s2[0], []
        for _ in range(future_seq):
            s3 = self.decoder_1_convlstm(vector, s3)
            s4 = self.decoder_2_convlstm(s3[0], s4)
            vector = s4[0]
            outputs.append(s4[0])
        y = self.decoder_CNN(torch.stack(outputs, 1).permute(0, 2, 1, 3, 4))
        return torch.sigmoid(y)


def seed_model(seed: int = 0, nf: int = 64, scale: float = 3.0, head_scale: float = 30.0
               ) -> SeedEncoderDecoderConvLSTM:
    """Random seed weights, scaled up so that gates saturate unevenly and the states and frames
    carry signal (at the default init every output is ~0.5, and a wrong mapping could hide there)."""
    torch.manual_seed(seed)
    model = SeedEncoderDecoderConvLSTM(nf)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(head_scale if name.startswith("decoder_CNN") else scale)
    return model.eval()


def lightning_checkpoint(model: nn.Module) -> dict:
    """What the seed's Lightning script saves: the LightningModule's state_dict (the network under
    ``model.``), training counters, Adam's state and the argparse hyperparameters."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98))
    model(torch.rand(1, 2, 1, 64, 64), 1).mean().backward()
    optimizer.step()
    state = OrderedDict((f"model.{k}", v) for k, v in model.state_dict().items())
    hparams = argparse.Namespace(lr=1e-4, beta_1=0.9, beta_2=0.98, batch_size=12, epochs=300, n_hidden_dim=64)
    return {"epoch": 299, "global_step": 2500, "checkpoint_callback_best": 0.0123,
            "optimizer_states": [optimizer.state_dict()], "lr_schedulers": [], "state_dict": state,
            "hparams": hparams}


@pytest.fixture(scope="module")
def seed_and_ckpt(tmp_path_factory):
    model = seed_model()
    path = tmp_path_factory.mktemp("seed") / "epoch=299.ckpt"
    torch.save(lightning_checkpoint(model), path)
    return model, path


def context(n: int = 2) -> np.ndarray:
    from framepred.data import test_set

    return test_set(n)[:, :10] / 255.0  # (n, 10, 64, 64)


def seed_prediction(model: SeedEncoderDecoderConvLSTM, ctx: np.ndarray, horizon: int) -> np.ndarray:
    with torch.no_grad():
        y = model(torch.from_numpy(ctx).float()[:, :, None], horizon)  # (B, 1, horizon, 64, 64)
    return y[:, 0].numpy()


# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_converted_lightning_checkpoint_predicts_as_the_seed(seed_and_ckpt, tmp_path):
    model, ckpt = seed_and_ckpt
    out = tmp_path / "seed"
    assert convert_seed.main([str(ckpt), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "seed" and config["hidden_dims"] == [64, 64] and config["decoder"] == "hidden"

    served = inference.load_model(out, "cpu")  # how the app loads it: config + safetensors only
    assert served.num_parameters() == 1_036_097  # the seed preset's size (README's table)
    ctx = context()
    ours = inference.predict(served, ctx, horizon=10)  # float32: what predict() runs by default
    theirs = seed_prediction(model, ctx, 10)
    assert ours.shape == theirs.shape == (2, 10, 64, 64)
    assert np.abs(ours - theirs).max() < 1e-4
    assert theirs.std() > 0.05  # the comparison is not between two near-constant outputs

    card = (out / "README.md").read_text()
    assert "holmdk/Video-Prediction-using-PyTorch" in card and ckpt.name in card
    assert "global_step 2500" in card and '"n_hidden_dim": 64' in card


def test_a_wrong_mapping_would_be_caught(seed_and_ckpt):
    """The 1e-4 comparison can fail: swapping the two decoder cells' weights is far outside it."""
    model, _ = seed_and_ckpt
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    for p in ("weight", "bias"):
        a, b = f"decoder_1_convlstm.conv.{p}", f"decoder_2_convlstm.conv.{p}"
        weights[a], weights[b] = weights[b], weights[a]
    wrong = convert_seed.to_model(weights)
    ctx = context(1)
    diff = np.abs(inference.predict(wrong, ctx, 10) - seed_prediction(model, ctx, 10)).max()
    assert diff > 1e-2


def test_bare_state_dict_and_other_width(tmp_path):
    """A bare state_dict (no Lightning wrapper) converts too; --n_hidden_dim 16 is read from the shapes."""
    model = seed_model(seed=2, nf=16)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    converted = convert_seed.convert(path, tmp_path / "out")
    assert converted.config.hidden_dims == (16, 16)
    ctx = context(1)
    assert np.abs(inference.predict(converted, ctx, 4) - seed_prediction(model, ctx, 4)).max() < 1e-4


def test_legacy_format_lightning_checkpoint(tmp_path):
    """torch < 1.6 (the seed's era) wrote the older, non-zip format: read the same way, weights only."""
    model = seed_model(seed=3, nf=8)
    path = tmp_path / "old.ckpt"
    torch.save(lightning_checkpoint(model), path, _use_new_zipfile_serialization=False)
    converted = convert_seed.convert(path, tmp_path / "out")
    ctx = context(1)
    assert np.abs(inference.predict(converted, ctx, 3) - seed_prediction(model, ctx, 3)).max() < 1e-4


def test_served_by_the_app(seed_and_ckpt, tmp_path, monkeypatch):
    """The converted folder, put under the checkpoints directory, is a model the app can serve."""
    from framepred.serving import models

    _, ckpt = seed_and_ckpt
    convert_seed.convert(ckpt, tmp_path / "checkpoints" / "seed")
    monkeypatch.setenv("FRAMEPRED_CHECKPOINTS_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.delenv("FRAMEPRED_MODEL", raising=False)
    assert "seed" in models.model_sources()
    loaded = models.get_model("seed")
    assert loaded.model.config.preset == "seed" and loaded.folder == tmp_path / "checkpoints" / "seed"


class Exploit:
    """A pickle that runs a shell command when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("where", ["top", "inside"])
def test_malicious_pickle_is_refused_unrun(tmp_path, where):
    marker = tmp_path / "pwned"
    payload = Exploit(marker)
    obj = payload if where == "top" else {"state_dict": seed_model(nf=4).state_dict(), "hparams": payload}
    path = tmp_path / "evil.ckpt"
    torch.save(obj, path)
    with pytest.raises(convert_seed.SeedCheckpointError, match="refused, not loaded") as err:
        convert_seed.convert(path, tmp_path / "out")
    assert "system" in str(err.value)  # names what it would have run
    assert not marker.exists()
    assert not (tmp_path / "out").exists()
    assert convert_seed.main([str(path), str(tmp_path / "out")]) == 2  # the command: a message, no traceback


def test_other_files_get_a_clear_message(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(convert_seed.SeedCheckpointError, match="not a PyTorch checkpoint"):
        convert_seed.convert(text, tmp_path / "a")
    other = tmp_path / "other.pt"
    torch.save({"encoder.0.conv.weight": torch.zeros(1)}, other)  # one of ours, not the seed's
    with pytest.raises(convert_seed.SeedCheckpointError, match="expected weights such as"):
        convert_seed.convert(other, tmp_path / "b")
    with pytest.raises(convert_seed.SeedCheckpointError, match="no such file"):
        convert_seed.convert(tmp_path / "missing.ckpt", tmp_path / "c")
    extra = seed_model(nf=4).state_dict()
    extra["model.extra.weight"] = torch.zeros(1)
    with pytest.raises(convert_seed.SeedCheckpointError, match="unexpected weights"):
        convert_seed.seed_state_dict(extra)


def test_refuses_to_overwrite(seed_and_ckpt, tmp_path):
    _, ckpt = seed_and_ckpt
    convert_seed.convert(ckpt, tmp_path / "m")
    with pytest.raises(convert_seed.SeedCheckpointError, match="already holds a model"):
        convert_seed.convert(ckpt, tmp_path / "m")
    convert_seed.convert(ckpt, tmp_path / "m", overwrite=True)
