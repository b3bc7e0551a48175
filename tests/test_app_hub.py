"""The app on a fresh machine with a Hub model: ``FRAMEPRED_MODEL=someone/framepred-test``.

``python app.py`` runs as a Space runs it, in a subprocess whose environment has an empty
``HF_HOME`` and ``HF_ENDPOINT`` pointing at a stand-in for the Hub's download endpoints on
127.0.0.1 (tests/hub_standin.py) serving the shipped ``checkpoints/default`` folder. The real
``huggingface_hub`` client downloads it; ``/predict_test`` must answer with that model.
"""

from pathlib import Path

import numpy as np
import pytest
from hub_standin import serve_model_repo
from test_hub import hub_env

from framepred.serving.launch import AppProcess

pytestmark = pytest.mark.slow  # a Space-like app process downloading from a stand-in Hub
REPO = Path(__file__).resolve().parent.parent
REPO_ID = "someone/framepred-test"
STARTUP_TIMEOUT_S = 180


def test_app_serves_a_hub_model_on_a_fresh_machine(tmp_path, make_client):
    folder = REPO / "checkpoints" / "default"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no shipped checkpoints/default")
    requests: list[str] = []
    with serve_model_repo(folder, REPO_ID, log=requests) as endpoint:
        env = hub_env(tmp_path, endpoint, FRAMEPRED_MODEL=REPO_ID,
                      FRAMEPRED_CHECKPOINTS_DIR=str(tmp_path / "no_checkpoints"))
        assert not (tmp_path / "hf_home").exists()  # nothing cached: the app must download
        with AppProcess(REPO / "app.py", env=env, cwd=tmp_path, log=tmp_path / "app.log",
                        startup_timeout_s=STARTUP_TIMEOUT_S) as app:
            client = make_client(app.url)
            gif, npy, report = client.predict(3, 10, api_name="/predict_test")
            import httpx

            page = httpx.get(f"{app.url}/config", timeout=60).text  # the page's components and their values
    assert report["model"] == REPO_ID and report["models"][0]["trained"] is True
    assert np.load(npy).shape == (10, 64, 64) and report["metrics"]["mse"]["mean"] < 120  # a trained model
    assert any("model.safetensors" in r for r in requests)  # downloaded through the stand-in
    assert any(p.name == "training.json" for p in (tmp_path / "hf_home").rglob("training.json"))
    assert f"{REPO_ID} (FRAMEPRED_MODEL)" in page  # the model menu names it ...
    assert "Trained for" in page and "Untrained" not in page  # ... and shows it as trained
