"""The app's CPU count follows a container's cgroup CPU quota (v1 and v2), else the affinity mask
(framepred.serving.cpu)."""

import os
import sys
from pathlib import Path

import pytest

from framepred.serving import cpu

AFFINITY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")


def _limit(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> float | None:
    root = tmp_path / "cgroup"
    _files(root, files)
    (tmp_path / "self_cgroup").write_text(proc_cgroup)
    return cpu.cgroup_cpu_limit(root, tmp_path / "self_cgroup")


@pytest.mark.parametrize("cpu_max,expected", [
    ("150000 100000", 1.5),  # a Space-like quota: 1.5 CPUs
    ("400000 100000", 4.0),
    ("max 100000", None),  # no limit
    ("50000", 0.5),  # period omitted: the kernel's default 100 ms
])
def test_cgroup_v2_cpu_max(tmp_path, cpu_max, expected):
    assert _limit(tmp_path, "0::/\n", {"cpu.max": cpu_max}) == expected


def test_cgroup_v2_reads_this_process_cgroup_and_the_tightest_ancestor(tmp_path):
    files = {"cpu.max": "max 100000", "app.slice/cpu.max": "300000 100000",
             "app.slice/space/cpu.max": "max 100000", "other/cpu.max": "100000 100000"}
    assert _limit(tmp_path, "0::/app.slice/space\n", files) == 3.0


def test_cgroup_v2_path_missing_from_the_mount_falls_back_to_the_mount_root(tmp_path):
    # Inside a container the host's path in /proc/self/cgroup need not exist under the mount.
    assert _limit(tmp_path, "0::/docker/abc123\n", {"cpu.max": "200000 100000"}) == 2.0


@pytest.mark.parametrize("quota,period,expected", [("200000", "100000", 2.0), ("-1", "100000", None),
                                                   ("25000", "50000", 0.5)])
def test_cgroup_v1_cfs_quota(tmp_path, quota, period, expected):
    proc = "12:pids:/\n4:cpu,cpuacct:/\n1:name=systemd:/\n"
    files = {"cpu,cpuacct/cpu.cfs_quota_us": quota, "cpu,cpuacct/cpu.cfs_period_us": period}
    assert _limit(tmp_path, proc, files) == expected


def test_cgroup_v1_separate_cpu_mount_and_nested_cgroup(tmp_path):
    proc = "3:cpuset:/\n2:cpu:/kubepods/pod1\n1:cpuacct:/kubepods/pod1\n"
    files = {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000",
             "cpu/kubepods/pod1/cpu.cfs_quota_us": "150000", "cpu/kubepods/pod1/cpu.cfs_period_us": "100000"}
    assert _limit(tmp_path, proc, files) == 1.5


def test_no_cgroup_files_or_garbage_is_no_quota(tmp_path):
    assert _limit(tmp_path, "", {}) is None
    assert _limit(tmp_path, "0::/\n", {"cpu.max": "lots 100000"}) is None
    assert _limit(tmp_path, "0::/\n", {"cpu.max": "100000 0"}) is None
    assert cpu.cgroup_cpu_limit(tmp_path / "missing", tmp_path / "missing_file") is None


def test_cpu_count_is_the_affinity_mask_lowered_to_the_quota(tmp_path):
    proc = tmp_path / "self_cgroup"
    proc.write_text("0::/\n")
    root = tmp_path / "cgroup"
    root.mkdir()
    assert cpu.cpu_count(root, proc) == AFFINITY  # no cpu.max at all
    (root / "cpu.max").write_text("max 100000\n")
    assert cpu.cpu_count(root, proc) == AFFINITY
    (root / "cpu.max").write_text("100000 100000\n")
    assert cpu.cpu_count(root, proc) == 1
    (root / "cpu.max").write_text("30000 100000\n")
    assert cpu.cpu_count(root, proc) == 1  # a fraction of a CPU still gets one thread
    (root / "cpu.max").write_text(f"{(AFFINITY + 1) * 150000} 100000\n")
    assert cpu.cpu_count(root, proc) == AFFINITY  # a quota above the mask: the mask


def test_this_machine_reads_without_error():
    limit = cpu.cgroup_cpu_limit()
    assert limit is None or limit > 0
    assert 1 <= cpu.cpu_count() <= AFFINITY


# --------------------------------------------------------------------------------------------------
# How predictions share the cores (framepred.inference.share_cpu, set by cpu.configure_threads)
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    import torch

    from framepred import inference

    threads, share = torch.get_num_threads(), inference.cpu_share()
    yield
    inference.share_cpu(share["cores"], share["slots"])
    torch.set_num_threads(threads)


def _record_predictions(slots: int, together: int) -> list[tuple[int, int]]:
    """Run ``together`` predictions at once from separate threads under share_cpu(2, slots); each
    records (predictions running, its torch threads) from inside the model."""
    import threading

    import numpy as np
    import torch

    from framepred import inference
    from framepred.config import ConvLSTMConfig
    from framepred.model import ConvLSTMSeq2Seq

    seen, lock = [], threading.Lock()
    inside = threading.Barrier(together) if slots in (0, together) else None  # all inside at once

    class Recording(ConvLSTMSeq2Seq):  # the real model; it only notes what it ran with
        def forward(self, x, horizon):
            if inside is not None:
                inside.wait(timeout=60)
            with lock:
                seen.append((inference.cpu_share()["active"], torch.get_num_threads()))
            if inside is not None:  # none leaves (giving its share back) before all have looked
                inside.wait(timeout=60)
            return super().forward(x, horizon)

    model = Recording(ConvLSTMConfig.preset_config("tiny")).eval()
    ctx = np.random.default_rng(0).random((10, 64, 64)).astype(np.float32)
    inference.share_cpu(2, slots)
    workers = [threading.Thread(target=inference.predict, args=(model, ctx, 1)) for _ in range(together)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert inference.cpu_share()["active"] == 0  # every prediction gave its share back
    return sorted(seen)


def test_a_lone_prediction_gets_every_core_two_at_once_split_them(restore_threads):
    assert _record_predictions(slots=0, together=1) == [(1, 2)]
    # The first to start had both cores; the second, starting while it runs, gets what is left.
    assert _record_predictions(slots=0, together=2) == [(2, 1), (2, 2)]


def test_one_slot_runs_predictions_one_at_a_time_on_every_core(restore_threads):
    assert _record_predictions(slots=1, together=3) == [(1, 2)] * 3
    assert _record_predictions(slots=2, together=2) == [(2, 1), (2, 1)]


def test_configure_threads_policy_and_overrides(restore_threads, monkeypatch):
    import torch

    from framepred import inference

    monkeypatch.delenv("FRAMEPRED_TORCH_THREADS", raising=False)
    monkeypatch.delenv("FRAMEPRED_CPU_SLOTS", raising=False)
    assert cpu.configure_threads(2) == cpu.cpu_count()  # what a lone request gets
    assert inference.cpu_share()["cores"] == cpu.cpu_count() and inference.cpu_share()["slots"] == 0
    monkeypatch.setenv("FRAMEPRED_CPU_SLOTS", "2")
    assert cpu.configure_threads(2) == max(1, cpu.cpu_count() // 2)
    assert inference.cpu_share()["slots"] == 2
    monkeypatch.setenv("FRAMEPRED_TORCH_THREADS", "1")  # a fixed count: no sharing
    assert cpu.configure_threads(2) == 1 and torch.get_num_threads() == 1
    assert inference.cpu_share()["cores"] == 0
    for name, bad in (("FRAMEPRED_TORCH_THREADS", "many"), ("FRAMEPRED_TORCH_THREADS", "0"),
                      ("FRAMEPRED_CPU_SLOTS", "3")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=f"{name} must be an integer"):
            cpu.configure_threads(2)
        monkeypatch.delenv(name)


ARENAS_PROBE = r"""
import ctypes, ctypes.util, sys, threading, tempfile, os
import numpy as np
from framepred.serving import cpu
limited = cpu.limit_malloc_arenas(int(sys.argv[1]))
barrier = threading.Barrier(8)
def work():  # 8 threads allocating at once: glibc gives threads that meet a locked arena new ones
    barrier.wait()
    for _ in range(200):
        a = [np.ones(1000) for _ in range(20)]
        del a
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(fp))
libc.fclose(ctypes.c_void_p(fp))
print(limited, open(path).read().count("<heap nr="))
os.remove(path)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")
def test_the_served_app_keeps_malloc_to_few_arenas():
    """Threads that allocate at once get new malloc arenas (up to 8 per core), which made a served
    app's RSS creep over a long soak; limit_malloc_arenas keeps them to its number, unless the host set
    MALLOC_ARENA_MAX itself (then theirs stands)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def probe(n: int, **extra) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", ARENAS_PROBE, str(n)], env={**env, **extra}, capture_output=True,
                             text=True, timeout=120, check=True).stdout.split()
        return out[0], int(out[1])

    assert probe(1) == ("True", 1)
    limited, arenas = probe(2)
    assert limited == "True" and arenas <= 2
    limited, arenas = probe(1, MALLOC_ARENA_MAX="8")  # the host's setting stands
    assert limited == "False" and arenas > 1
