"""A stand-in for the Hugging Face Hub on 127.0.0.1: serves a local folder as a model repo.

    with serve_model_repo(folder, repo_id="someone/framepred-test") as endpoint:
        env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf")}
        env.pop("HF_HUB_OFFLINE", None)  # tests/conftest.py sets it for the test session
        subprocess.run([sys.executable, "-c", "..."], env=env, check=True)

huggingface_hub reads HF_ENDPOINT when it is imported, so run the client in a subprocess with the
environment set. Only what the installed client needs for ``hf_hub_download`` and
``snapshot_download`` is served (stdlib only, one thread per request):

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: the model info (``sha`` =
  the commit, ``siblings`` = the files); ``snapshot_download`` resolves the revision with it.
* ``GET /api/models/{repo}/tree/{rev}[/{path}]``: the file list (``type``, ``path``, ``size``,
  ``oid``, ``lfs`` for binary files), one page (no ``Link`` header, so no further page).
* ``HEAD``/``GET /{repo}/resolve/{rev}/{filename}``: the file, with ``X-Repo-Commit`` and ``ETag``
  (both required by the client) and ``Content-Length``; for LFS files also ``X-Linked-Etag`` and
  ``X-Linked-Size``, as the Hub sends them. No redirects and no Range support: the client asks for
  a range only to resume a broken download, and accepts a full 200 answer then.

Errors carry the Hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``),
which the client turns into its typed exceptions. Revisions: ``main`` and the commit hash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".png", ".bin", ".npz", ".npy")  # stored in LFS on the real Hub


@dataclass(frozen=True)
class RepoFile:
    path: str
    data: bytes
    blob_sha1: str  # git blob id: the ETag of a regular file
    sha256: str  # LFS object id: the ETag of an LFS file

    @property
    def lfs(self) -> bool:
        return self.path.endswith(LFS_SUFFIXES)


def read_repo(folder: str | Path) -> tuple[dict[str, RepoFile], str]:
    """Every file under ``folder`` (read once, so later changes to it are not served) and a commit
    hash derived from their contents."""
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            rel = p.relative_to(folder).as_posix()
            files[rel] = RepoFile(rel, data, blob, hashlib.sha256(data).hexdigest())
    commit = hashlib.sha1("".join(f"{f.path}:{f.blob_sha1}\n" for f in files.values()).encode()).hexdigest()
    return files, commit


def _handler(repo_id: str, files: dict[str, RepoFile], commit: str, log: list[str] | None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client expects; every answer has a length

        def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        # -- routing -------------------------------------------------------------------------------
        def _serve(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if log is not None:
                log.append(f"{self.command} {path}")
            api = f"/api/models/{repo_id}"
            resolve = f"/{repo_id}/resolve/"
            if path.startswith("/api/models/"):
                if not (path == api or path.startswith(api + "/")):
                    return self._error(404, "RepoNotFound", "Repository not found", body)
                rest = path[len(api):].strip("/")
                if rest == "":
                    return self._json(self._info(), body)
                kind, _, tail = rest.partition("/")
                rev, _, sub = tail.partition("/")
                if rev not in ("main", commit):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", body)
                if kind == "revision" and not sub:
                    return self._json(self._info(), body)
                if kind == "tree":
                    return self._json(self._tree(sub), body)
                return self._error(404, None, "Not found", body)
            if path.startswith(resolve):
                rev, _, name = path[len(resolve):].partition("/")
                if rev not in ("main", commit):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", body)
                if name not in files:
                    return self._error(404, "EntryNotFound", f"{name} does not exist", body)
                return self._file(files[name], body)
            if path.startswith("/") and path.count("/") >= 2:  # another repo's file
                return self._error(404, "RepoNotFound", "Repository not found", body)
            return self._error(404, None, "Not found", body)

        # -- answers -------------------------------------------------------------------------------
        def _info(self) -> dict:
            return {
                "_id": commit[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0],
                "sha": commit, "private": False, "disabled": False, "gated": False,
                "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
                "library_name": "framepred", "tags": ["framepred"], "downloads": 0, "likes": 0,
                "siblings": [{"rfilename": f.path} for f in files.values()],
            }

        def _tree(self, sub: str) -> list[dict]:
            prefix = sub.strip("/") + "/" if sub.strip("/") else ""
            out = []
            for f in files.values():
                if f.path.startswith(prefix):
                    entry = {"type": "file", "oid": f.blob_sha1, "size": len(f.data), "path": f.path}
                    if f.lfs:
                        entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 134}
                    out.append(entry)
            return out

        def _file(self, f: RepoFile, body: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(f.data)))
            self.send_header("ETag", f'"{f.blob_sha1}"')
            self.send_header("X-Repo-Commit", commit)
            if f.lfs:
                self.send_header("X-Linked-Etag", f'"{f.sha256}"')
                self.send_header("X-Linked-Size", str(len(f.data)))
            self.send_header("Accept-Ranges", "none")
            self.end_headers()
            if body:
                self.wfile.write(f.data)

        def _json(self, value, body: bool) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Repo-Commit", commit)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _error(self, status: int, code: str | None, message: str, body: bool) -> None:
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code is not None:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if code == "EntryNotFound":
                self.send_header("X-Repo-Commit", commit)
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


@contextmanager
def serve_model_repo(folder: str | Path, repo_id: str = "someone/framepred-test",
                     log: list[str] | None = None) -> Iterator[str]:
    """Serve ``folder`` as the Hub model repo ``repo_id`` on a free port of 127.0.0.1; yields the
    endpoint URL for ``HF_ENDPOINT``. Each request is appended to ``log`` ("GET /path") if given."""
    files, commit = read_repo(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo_id, files, commit, log))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hub-standin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_endpoint() -> str:
    """An endpoint URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def commit_of(folder: str | Path) -> str:
    """The commit hash :func:`serve_model_repo` reports for ``folder`` (as it is now)."""
    return read_repo(folder)[1]
