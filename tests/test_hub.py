"""framepred and the Hugging Face Hub, without the network: a stand-in Hub on 127.0.0.1
(tests/hub_standin.py) serves a saved model as the repo ``someone/framepred-test``.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when it is imported, and conftest.py makes this
test session offline, so every download runs in a subprocess with its own environment: the stand-in
as endpoint, an empty HF_HOME (a fresh machine), online, no token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hub_standin import closed_port_endpoint, commit_of, serve_model_repo

from framepred.hub import MODEL_FILES, ModelSourceError, model_dir

REPO = Path(__file__).resolve().parent.parent
HUB_ID = "someone/framepred-test"
SUBPROCESS_TIMEOUT_S = 300  # torch's import alone can take a while on a loaded 2-core machine


def hub_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """A fresh machine's environment talking to ``endpoint``: empty HF_HOME, online, no token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_IMPLICIT_TOKEN="1", OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)


@pytest.fixture(scope="module")
def hub_repo(tiny_model_dir, tmp_path_factory) -> Path:
    """A model folder as it is pushed: weights, config, card files, and a file the app never needs."""
    repo = tmp_path_factory.mktemp("hub_repo") / "framepred-test"
    shutil.copytree(tiny_model_dir, repo)
    (repo / "training.json").write_text(json.dumps({"global_step": 7, "val_mse": 123.4}))
    (repo / "eval.json").write_text(json.dumps({"model": {"mse": {"mean": 99.0}}}))
    (repo / "README.md").write_text("---\nlicense: mit\nlibrary_name: framepred\n---\n\n# tiny\n")
    (repo / "optimizer.ckpt").write_bytes(b"\0" * 1000)  # not in MODEL_FILES: never downloaded
    return repo


@pytest.mark.slow
def test_load_model_downloads_a_hub_repo_on_a_fresh_machine(hub_repo, tmp_path):
    """Through the real huggingface_hub client: load_model(repo id) on an empty HF_HOME downloads the
    model and predicts exactly what the local folder predicts; model_dir fetches the card files."""
    log: list[str] = []
    with serve_model_repo(hub_repo, HUB_ID, log) as endpoint:
        r = run_python(f"""
            import json, os
            import numpy as np
            from framepred.inference import load_model, predict
            from framepred.hub import ModelSourceError, model_dir, read_config

            ctx = np.random.default_rng(0).random((10, 64, 64)).astype(np.float32)
            hub = load_model({HUB_ID!r}, "cpu")
            local = load_model({str(hub_repo)!r}, "cpu")
            out = {{"same_config": hub.config == local.config == read_config({HUB_ID!r}),
                    "max_diff": float(np.abs(predict(hub, ctx, 12) - predict(local, ctx, 12)).max())}}
            folder = model_dir({HUB_ID!r})
            out["folder"], out["files"] = str(folder), sorted(os.listdir(folder))
            for key, source, revision in (("missing_repo", "someone/missing", None),
                                          ("missing_revision", {HUB_ID!r}, "nope")):
                try:
                    load_model(source, revision=revision)
                except ModelSourceError as e:
                    out[key] = str(e)
            print(json.dumps(out))
        """, hub_env(tmp_path, endpoint), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["same_config"] and out["max_diff"] == 0.0
    snapshots = tmp_path / "hf_home" / "hub" / "models--someone--framepred-test" / "snapshots"
    assert Path(out["folder"]) == snapshots / commit_of(hub_repo)
    assert out["files"] == sorted(n for n in os.listdir(hub_repo) if n in MODEL_FILES)
    assert {"training.json", "README.md", "eval.json"} <= set(out["files"]) and "optimizer.ckpt" not in out["files"]
    assert any(line.startswith("GET") and line.endswith("/model.safetensors") for line in log)  # really served
    assert "could not download 'someone/missing'" in out["missing_repo"]
    assert "no such model repository" in out["missing_repo"]
    assert "no revision 'nope'" in out["missing_revision"]


def test_unreachable_hub_fails_fast_with_one_clear_error(tmp_path):
    """Nothing listens at HF_ENDPOINT: a ModelSourceError that says what to do, quickly, and one
    traceback, not three chained ones."""
    env = hub_env(tmp_path, closed_port_endpoint(), HF_HUB_ETAG_TIMEOUT="3", HF_HUB_DOWNLOAD_TIMEOUT="3")
    r = run_python(f"""
        import sys, time
        from framepred.inference import load_model
        from framepred.hub import ModelSourceError, model_dir

        t0 = time.monotonic()
        for name, call in (("model_dir", model_dir), ("load_model", load_model)):
            try:
                call({HUB_ID!r})
            except ModelSourceError as e:
                print(f"{{name}}: {{e}}")
        print("seconds:", time.monotonic() - t0, flush=True)
        load_model({HUB_ID!r})  # uncaught: what a user of the library sees
    """, env, tmp_path)
    assert r.returncode == 1
    lines = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
    assert float(lines["seconds"]) < 10  # no retries with backoff on a refused connection
    for name in ("model_dir", "load_model"):
        assert lines[name].startswith(f"could not download '{HUB_ID}' from the Hugging Face Hub (http://127.0.0.1:")
    assert r.stderr.count("Traceback") == 1 and "During handling" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"framepred.hub.ModelSourceError: could not download '{HUB_ID}'")
    assert "Connect" in last and "is the Hub reachable, or set HF_HUB_OFFLINE=1 with a cached copy" in last


def test_offline_without_a_cached_copy_says_so(tmp_path, monkeypatch):
    """HF_HUB_OFFLINE=1 (as in this test session) and an empty cache: no network call, a clear error."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    for call in (lambda: model_dir(HUB_ID), lambda: __import__("framepred.inference").inference.load_model(HUB_ID)):
        with pytest.raises(ModelSourceError, match="offline .* no complete copy in the local cache") as info:
            call()
        assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_a_local_folder_is_its_own_model_dir(tiny_model_dir, tmp_path):
    assert model_dir(tiny_model_dir) == Path(tiny_model_dir)
    with pytest.raises(ModelSourceError, match="not a Hub repo id"):
        model_dir(tmp_path / "nowhere")


# --------------------------------------------------------------------------------------------------
# Publishing: train.py --push-to-hub and the model card's Hub metadata
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def hub_api_calls(monkeypatch) -> list[tuple]:
    """HfApi.create_repo / upload_folder replaced by recorders (nothing leaves the machine)."""
    import huggingface_hub

    calls: list[tuple] = []

    def create_repo(self, repo_id, **kw):
        calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        calls.append(("upload_folder", kw["repo_id"], kw, sorted(os.listdir(kw["folder_path"]))))
        return f"https://huggingface.co/{kw['repo_id']}/commit/0123abcd"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return calls


def test_push_to_hub_uploads_the_whole_exported_folder_with_a_valid_card(tiny_model_dir, tmp_path, hub_api_calls,
                                                                          capsys):
    """train.py's --push-to-hub path: evaluate and write the card for the exported weights, then upload
    the whole folder; the card's Hub metadata parses and carries the held-out results."""
    from huggingface_hub import ModelCard

    from train import train as train_script

    export = tmp_path / "export"
    shutil.copytree(tiny_model_dir, export)
    (export / "training.json").write_text(json.dumps({"global_step": 7, "val_mse": 123.4, "val_size": 8,
                                                      "command": "python train/train.py ..."}))
    url = train_script.publish(export, HUB_ID, tmp_path / "no-logs", limit=4)
    assert url == f"https://huggingface.co/{HUB_ID}/commit/0123abcd"
    (create, repo_id, create_kw), (upload, up_repo, up_kw, files) = hub_api_calls
    assert (create, repo_id, create_kw["exist_ok"], create_kw["repo_type"]) == ("create_repo", HUB_ID, True, "model")
    assert (upload, up_repo, Path(up_kw["folder_path"])) == ("upload_folder", HUB_ID, export)
    assert not up_kw.get("allow_patterns") and not up_kw.get("ignore_patterns")  # the whole folder
    assert {"README.md", "eval.json", "training.json", "config.json", "model.safetensors"} <= set(files)

    ev = json.loads((export / "eval.json").read_text())
    data = ModelCard((export / "README.md").read_text()).data
    assert (data.license, data.library_name, data.pipeline_tag) == ("mit", "framepred", "video-to-video")
    assert {"video-prediction", "convlstm", "moving-mnist", "pytorch"} <= set(data.tags)
    model_index = data.to_dict()["model-index"][0]["results"][0]
    assert model_index["dataset"]["name"] == "Moving MNIST (framepred held-out test set, 10 → 10)"
    got = {m["type"]: m["value"] for m in model_index["metrics"]}
    assert got == {k: round(ev["model"][k]["mean"], 4) for k in ("mse", "mae", "ssim", "psnr")}

    # Card and results are newer than the weights now: a second push uploads them as they are.
    card_ns = (export / "README.md").stat().st_mtime_ns
    train_script.publish(export, HUB_ID, limit=4)
    assert (export / "README.md").stat().st_mtime_ns == card_ns and len(hub_api_calls) == 4


def test_push_refuses_a_folder_without_weights_or_card(tiny_model_dir, tmp_path, hub_api_calls):
    from framepred.hub import push_folder
    from train import train as train_script

    folder = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "README.md").unlink()  # save_pretrained's generic card
    with pytest.raises(ModelSourceError, match="missing README.md"):
        push_folder(folder, HUB_ID)
    with pytest.raises(SystemExit, match="--push-to-hub needs --export"):
        train_script.main(["--preset", "tiny", "--push-to-hub", HUB_ID])
    assert hub_api_calls == []


# --------------------------------------------------------------------------------------------------
# Model cards: a name, the data, how to install and use the model, its limits
# --------------------------------------------------------------------------------------------------
def _card_blocks(card: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", card, re.DOTALL)


def test_a_cards_usage_snippets_load_the_hub_repo_they_name(tiny_model_dir, tmp_path):
    """train/model_card.py --hub-id: the card names its model (title = model-index name), carries
    `datasets`, an install line and a Limitations section; its Python snippet and its `framepred
    predict` line, run as written on a fresh machine, load that repo from the (stand-in) Hub."""
    from huggingface_hub import ModelCard

    from train import evaluate as evaluate_script
    from train import model_card

    model = tmp_path / "default"  # a folder named otherwise than its preset: the name says both
    shutil.copytree(tiny_model_dir, model)
    (model / "training.json").write_text(json.dumps({
        "global_step": 7, "val_mse": 123.4, "val_size": 8, "command": "python train/train.py ...",
        "data": {"mixed": True, "standard_fraction": 0.25, "speed_range": [0.25, 3.0], "digits_range": [1, 3]},
        "hparams": {"context": 10, "horizon": 10}}))
    evaluate_script.main(["--model", str(model), "--limit", "4", "--json", str(model / "eval.json")])
    card = model_card.main(["--model", str(model), "--eval", str(model / "eval.json"), "--hub-id", HUB_ID])

    data = ModelCard(card).data
    name = data.to_dict()["model-index"][0]["name"]
    assert name == "framepred ConvLSTM tiny (default)" and f"\n# {name}\n" in card
    assert data.datasets == model_card.DATASETS == ["ylecun/mnist"]
    assert (data.library_name, data.pipeline_tag) == ("framepred", "video-to-video")
    assert "pip install" in card and "## Limitations" in card and "speeds 0.25–3.0" in card
    assert model_card.HUB_PLACEHOLDER not in card  # the repo is known: no placeholder
    (python,), (bash,) = _card_blocks(card, "python"), _card_blocks(card, "bash")
    assert f'load_model("{HUB_ID}")' in python
    assert bash.strip() == f"framepred predict clip.gif prediction.mp4 --model {HUB_ID}"

    work = tmp_path / "work"
    work.mkdir()
    with serve_model_repo(model, HUB_ID) as endpoint:
        r = run_python("\n".join([
            python,
            "assert prediction.shape == (10, 64, 64), prediction.shape",
            "import shlex",
            "from PIL import Image",
            "from framepred.cli import main",
            "frames = [Image.fromarray(f) for f in test_set(1)[0]]",
            "frames[0].save('clip.gif', save_all=True, append_images=frames[1:], duration=100, loop=0)",
            f"raise SystemExit(main(shlex.split({bash.strip()!r})[1:]))",
        ]), hub_env(tmp_path, endpoint), work)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (work / "prediction.mp4").stat().st_size > 0


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (REPO / "checkpoints").glob("*/config.json")))
def test_each_shipped_card_names_its_model_and_says_how_to_use_it(folder):
    """checkpoints/*/README.md: each names its own model (its design's preset, the folder where that
    differs), in the title and the model-index, and has the Hub metadata, the usage snippets, the
    install line and the limitations of train/model_card.py; its results are its eval.json's."""
    from huggingface_hub import ModelCard

    from framepred.hub import read_config
    from train import model_card

    path = REPO / "checkpoints" / folder
    card = (path / "README.md").read_text(encoding="utf-8")
    data = ModelCard(card).data
    index = data.to_dict()["model-index"][0]
    assert index["name"] == model_card.card_name(read_config(path).preset, path)
    assert f"\n# {index['name']}" in card
    assert ("(default)" in index["name"]) == (folder == "default")  # only the default model says it is
    assert data.datasets == model_card.DATASETS and data.library_name == "framepred"
    python = "".join(_card_blocks(card, "python"))
    assert f'load_model("{model_card.HUB_PLACEHOLDER}")' in python
    assert f"--model {model_card.HUB_PLACEHOLDER}" in "".join(_card_blocks(card, "bash"))
    assert "pip install" in card and "\n## Limitations\n" in card
    ev = json.loads((path / "eval.json").read_text())
    got = {m["type"]: m["value"] for m in index["results"][0]["metrics"]}
    assert got == {k: round(ev["model"][k]["mean"], 4) for k in ("mse", "mae", "ssim", "psnr")}


def test_a_cards_name_is_its_preset_and_its_folder():
    from train.model_card import card_name

    assert card_name("v3", Path("checkpoints/default")) == "framepred ConvLSTM v3 (default)"
    assert card_name("v2", Path("checkpoints/v2")) == "framepred ConvLSTM v2"
    assert card_name("v1", Path("checkpoints/v1-speed1")) == "framepred ConvLSTM v1 (v1-speed1)"
