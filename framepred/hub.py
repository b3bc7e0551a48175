"""Model sources: a local folder or a Hugging Face Hub repo id; download, read, push.

Every failure to get a model's files is a :class:`ModelSourceError` with a one-line message meant
for users (what failed, why, what to try). huggingface_hub is imported only when the Hub is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import CONFIG_NAME, ConvLSTMConfig, read_config_file

WEIGHTS_NAME = "model.safetensors"
# Everything a served model may have beside its weights (the model card and the measured facts);
# model_dir() downloads these and nothing else from a Hub repo.
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, "README.md", "eval.json", "training.json", "grid.json",
               "learning_curve.png", "training_notes.md")


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


def read_config(source: str | os.PathLike, *, revision: str | None = None, local_files_only: bool = False,
                cache_dir: str | Path | None = None, token: str | bool | None = None,
                force_download: bool = False) -> ConvLSTMConfig:
    """The config of a saved model: a local directory's ``config.json``, or a Hub repo's (only that
    file is downloaded, into the Hugging Face cache).

    Raises :class:`ModelSourceError` when the file cannot be had (no such folder, no config.json,
    Hub unreachable or repo not found) and ``ValueError`` when it is not a valid config.
    """
    source = os.fspath(source)
    folder = resolve(source, (CONFIG_NAME,), revision=revision, cache_dir=cache_dir,
                     force_download=force_download, token=token, local_files_only=local_files_only)
    return read_config_file(folder / CONFIG_NAME, source)


def model_dir(source: str | os.PathLike, revision: str | None = None, *, local_files_only: bool = False,
              cache_dir: str | Path | None = None, token: str | bool | None = None) -> Path:
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
    return resolve(source, (CONFIG_NAME, WEIGHTS_NAME), patterns=MODEL_FILES, revision=revision,
                   cache_dir=cache_dir, force_download=False, token=token, local_files_only=local_files_only)


def resolve(source: str, needed: tuple[str, ...], *, patterns: tuple[str, ...] | None = None,
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
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
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

