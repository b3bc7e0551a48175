"""The tracked tree stays light (issue #28): every clone and every device run carries all of it."""

import subprocess
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TREE_LIMIT = 56 * 2**20  # bytes, all tracked files together
FILE_LIMIT = 16 * 2**20  # bytes per tracked file (a compact resume state's files fit: train/resume_state.py)
# The shipped models' weights are one file each, as from_pretrained and the Hub read them (v3: 17.7 MB).
WHOLE_FILES = ("checkpoints/*/model.safetensors",)


def _tracked() -> dict[str, int]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    paths = [p for p in out.decode().split("\0") if p]
    return {p: (REPO / p).stat().st_size for p in paths if (REPO / p).is_file()}


def test_tracked_tree_is_light():
    sizes = _tracked()
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    assert total <= TREE_LIMIT, (f"tracked files: {total / 2**20:.1f} MiB > {TREE_LIMIT / 2**20:.0f} MiB; "
                                 f"largest {largest}")
    big = {p: s for p, s in sizes.items() if s > FILE_LIMIT and not any(fnmatch(p, g) for g in WHOLE_FILES)}
    assert not big, f"tracked files over {FILE_LIMIT / 2**20:.0f} MiB: {big}"
