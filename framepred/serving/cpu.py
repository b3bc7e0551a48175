"""How the app's predictions share this machine's CPUs: the CPUs a container lets this process use
(cgroup CPU quota, affinity mask) and the thread policy built on them (``configure_threads``).

Set once at app start-up; :mod:`framepred.inference` applies it to each CPU prediction
(:func:`framepred.inference.share_cpu`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import torch

from .. import inference

CGROUP_ROOT = Path("/sys/fs/cgroup")  # where cgroup v2 (or v1's per-controller folders) are mounted
PROC_SELF_CGROUP = Path("/proc/self/cgroup")  # which cgroup this process is in


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ancestors(root: Path, cgroup_path: str) -> list[Path]:
    """``root/cgroup_path`` and every folder above it up to ``root``: a parent's quota binds its
    children too, and inside a container the mount shows the container's own cgroup at ``root``."""
    parts = [p for p in cgroup_path.split("/") if p not in ("", ".", "..")]
    return [root.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _quota_v2(folder: Path) -> float | None:
    """CPUs from cgroup v2 ``cpu.max`` ("QUOTA PERIOD" in µs, or "max ..." for no limit)."""
    fields = (_read(folder / "cpu.max") or "max").split()
    if fields[0] == "max":
        return None
    return int(fields[0]) / int(fields[1] if len(fields) > 1 else 100_000)


def _quota_v1(folder: Path) -> float | None:
    """CPUs from cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: no limit)."""
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    if quota is None or period is None or int(quota) <= 0:
        return None
    return int(quota) / int(period)


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float | None:
    """The CPUs this process may use under its cgroup's CPU quota (v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us``), the smallest along its cgroup's ancestors; None without a quota.

    A container's quota (e.g. a Space's 2 vCPU) is invisible to ``os.cpu_count`` and the affinity
    mask, which show the host's CPUs: threads sized from those would be throttled."""
    v2_path, v1 = "/", []  # this process's cgroup, as /proc/self/cgroup names it
    for line in (_read(proc_cgroup) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            v2_path = path or "/"
        elif "cpu" in controllers.split(","):
            v1 = [(name, path or "/") for name in dict.fromkeys((controllers, "cpu", "cpu,cpuacct", "cpuacct,cpu"))]
    folders = [(f, _quota_v2) for f in _ancestors(root, v2_path)]
    folders += [(f, _quota_v1) for name, path in v1 for f in _ancestors(root / name, path)]
    limits = []
    for folder, quota in folders:
        try:
            limit = quota(folder)
        except (ValueError, ZeroDivisionError):  # an unreadable file is no quota, not a crash at start-up
            continue
        if limit is not None and limit > 0:
            limits.append(limit)
    return min(limits, default=None)


def cpu_count(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> int:
    """CPUs this process can use: the affinity mask, lowered to the cgroup CPU quota where there is
    one (rounded down: a thread more than the quota is throttled; at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(root, proc_cgroup)
    return cores if limit is None else max(1, min(cores, int(limit)))


CPU_SLOTS_DEFAULT = 0  # 0: every running prediction gets cores / running predictions (see configure_threads)


def _env_int(name: str, low: int, high: int | None = None) -> int | None:
    """An integer environment setting within [low, high], None when unset; a clear error otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {text!r}")
    return value


def configure_threads(concurrent_requests: int) -> int:
    """Share this process's CPUs (:func:`cpu_count`: affinity mask and cgroup quota) among the
    ``concurrent_requests`` predictions the app lets run at once; returns a lone request's threads.

    Default: a prediction takes cores / the predictions running as it starts, so one user alone gets
    every core and two at once get half each (never more threads than cores while the load is steady:
    torch's thread pool spins, 100x slower, when threads outnumber free cores).
    ``FRAMEPRED_CPU_SLOTS=k`` (1..concurrent_requests) instead lets k predictions run at once with
    cores / k threads each (1: one at a time on every core); ``FRAMEPRED_TORCH_THREADS=n`` fixes n
    threads per prediction (no sharing)."""
    fixed = _env_int("FRAMEPRED_TORCH_THREADS", 1)
    slots = _env_int("FRAMEPRED_CPU_SLOTS", 0, concurrent_requests)
    if fixed:
        inference.share_cpu(0)
        torch.set_num_threads(fixed)
        return fixed
    cores = cpu_count()
    slots = CPU_SLOTS_DEFAULT if slots is None else slots
    inference.share_cpu(cores, slots)
    threads = max(1, cores // max(1, slots))
    torch.set_num_threads(threads)  # the app's own thread (start-up, warm-up) as a lone request
    return threads


M_ARENA_MAX = -8  # glibc's mallopt() parameter number for the arena limit (malloc.h)
MALLOC_ARENAS = 2  # what the served app allows: RSS flat over a 2000-request soak (docs/reliability.md)


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> bool:
    """Let glibc's malloc use at most ``n`` arenas in this process, as ``MALLOC_ARENA_MAX=n`` would
    (which a Space cannot set before Python starts); call it before the server's threads allocate.

    glibc gives each thread that meets a locked arena a new one, up to 8 per core; a server's
    changing worker threads then leave freed memory spread over many arenas, and the RSS creeps up
    (+7 to +13 % over 1 800 requests after the first 200, against +2 % with 2 arenas). Returns
    whether the limit was set: not where the host already set ``MALLOC_ARENA_MAX`` (theirs stands)
    or where the C library is not glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, int(n)))
    except (OSError, AttributeError):  # no C library to load, or one without mallopt (not glibc)
        return False
