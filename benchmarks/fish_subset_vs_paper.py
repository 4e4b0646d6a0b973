"""Benchmark: ``kedro run --pipelines=fish_subset`` against a plain re-implementation of paper
004's appendix, on the same images, in the same process, one after the other.

- **pipeline**: the whole fish_subset run through a KedroSession (data_processing, subset,
  split, VGG16 features once per image, head trained by the engine, full model assembled and
  saved, every report), timed from session start to end.
- **paper appendix**: the appendix's code on the same train / validation / test arrays the
  pipeline persisted: ``x / 255.0``, a ``cv2.resize`` loop to 224×224, ``VGG16`` frozen in a
  ``Sequential`` with Flatten → Dense 512 → Dropout 0.5 → Dense 5, Adam, sparse categorical
  cross-entropy, ``ReduceLROnPlateau(factor=0.5, patience=3)``, ``model.fit(epochs=20)``,
  ``model.evaluate`` and ``model.predict`` on the test images and the confusion matrix. One
  change: it validates on the validation split (as the pipeline does) instead of the test
  set, so both runs see the same data and the same ReduceLROnPlateau signal.

ImageNet weights cannot be downloaded here; by default both runs load the same local VGG16
weights file with He-normal random kernels (``--weights he``): unlike Keras' default random
VGG16 (whose features all but vanish), its features carry information, so the two accuracies
mean something. ``--weights imagenet|none|PATH`` are also accepted.

    python benchmarks/fish_subset_vs_paper.py                      # 224, 20 epochs, 30+10/class
    python benchmarks/fish_subset_vs_paper.py --train-per-class 10 --test-per-class 2 \\
        --image-size 32 --epochs 2                                 # a smoke run in ~1 minute

Needs ``opencv-python-headless`` (the appendix's ``cv2``). Prints a table; no file is kept
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--train-per-class",
        type=int,
        default=30,
        help="synthetic training images per class (20%% of them validate)",
    )
    parser.add_argument(
        "--test-per-class", type=int, default=10, help="synthetic test images per class"
    )
    parser.add_argument("--image-size", type=int, default=224, help="side VGG16 sees (paper: 224)")
    parser.add_argument("--epochs", type=int, default=20, help="paper: 20")
    parser.add_argument("--weights", default="he", help="he (default) | imagenet | none | PATH")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary project and print its path"
    )
    return parser.parse_args(argv)


def he_weights_file(path: Path, seed: int) -> str:
    """A VGG16 (no top) weights file with He-normal kernels: a stand-in for ImageNet's."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    rng = np.random.default_rng(seed)
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            fan_in = int(np.prod(layer.kernel.shape[:3]))
            layer.kernel.assign(
                rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape).astype("float32")
            )
    vgg.save_weights(path)
    keras.backend.clear_session()
    return str(path)


def make_project(root: Path, args: argparse.Namespace, weights: str | None) -> Path:
    """A project copy with a ``benchmark`` environment: synthetic data of the asked size."""
    import yaml

    project = root / "project"
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "src").mkdir()  # the package is the installed one; bootstrap wants the folder
    (project / "data").mkdir()
    env = project / "conf" / "benchmark"
    env.mkdir()
    catalog = {
        "cifar100_archive": {
            "type": "cifar100_kedro.datasets.CIFAR100ArchiveDataset",
            "filepath": "data/01_raw/synthetic/cifar-100-python.tar.gz",
            "source": "synthetic",
            "synthetic": {
                "train_images_per_class": args.train_per_class,
                "test_images_per_class": args.test_per_class,
                "seed": 0,
            },
        }
    }
    parameters = {
        "training_run": {"max_epochs": None},
        "device": {"seed": args.seed},
        "fish_subset": {
            "model": {"image_size": args.image_size, "weights": weights},
            "train": {"epochs": args.epochs, "seed": args.seed},
        },
    }
    (env / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (env / "parameters.yml").write_text(yaml.safe_dump(parameters))
    return project


def run_kedro(project: Path, pipelines: list[str]) -> float:
    """Seconds to create a KedroSession on ``project`` and run ``pipelines`` in it."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    cwd = os.getcwd()
    os.chdir(project)
    try:
        started = time.perf_counter()
        bootstrap_project(project)
        with KedroSession.create(project_path=project, env="benchmark") as session:
            session.run(pipeline_names=pipelines)
        return time.perf_counter() - started
    finally:
        os.chdir(cwd)


def run_paper_appendix(project: Path, args: argparse.Namespace, weights: str | None) -> dict:
    """Paper 004's appendix on the pipeline's own subset arrays; its wall time and accuracy."""
    import cv2
    import keras
    import numpy as np
    from keras import layers
    from keras.applications import VGG16
    from sklearn.metrics import confusion_matrix

    folder = project / "data/05_model_input/fish_subset"
    arrays = {}
    for split in ("train", "validation", "test"):
        with np.load(folder / f"{split}.npz") as npz:
            arrays[split] = (npz["images"], npz["fine"])
    (train_X, train_y), (val_X, val_y), (test_X, test_y) = (
        arrays["train"],
        arrays["validation"],
        arrays["test"],
    )
    n_classes = len(json.loads((folder / "label_names.json").read_text())["fine"])
    size = args.image_size

    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    started = time.perf_counter()
    # Normalize pixel values to [0, 1]
    train_X, val_X, test_X = train_X / 255.0, val_X / 255.0, test_X / 255.0
    # Resize images to match VGG16 input size
    train_X_resized = np.array([cv2.resize(img, (size, size)) for img in train_X])
    val_X_resized = np.array([cv2.resize(img, (size, size)) for img in val_X])
    test_X_resized = np.array([cv2.resize(img, (size, size)) for img in test_X])
    resized = time.perf_counter()
    base_model = VGG16(weights=weights, include_top=False, input_shape=(size, size, 3))
    for layer in base_model.layers:
        layer.trainable = False
    model = keras.Sequential(
        [
            base_model,
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    lr_scheduler = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=3)
    fitting = time.perf_counter()
    model.fit(
        train_X_resized,
        train_y,
        epochs=args.epochs,
        validation_data=(val_X_resized, val_y),
        callbacks=[lr_scheduler],
        verbose=2,
    )
    fitted = time.perf_counter()
    _test_loss, test_acc = model.evaluate(test_X_resized, test_y, verbose=0)
    predictions = np.argmax(model.predict(test_X_resized, verbose=0), axis=1)
    cm = confusion_matrix(test_y, predictions)
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "resize_seconds": resized - started,
        "fit_seconds": fitted - fitting,
        "test_accuracy": float(test_acc),
        "prediction_accuracy": float(np.mean(predictions == test_y)),
        "confusion_matrix": cm.tolist(),
        "counts": {k: len(v[1]) for k, v in arrays.items()},
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fish_benchmark_"))
    try:
        weights = {"he": None, "none": None, "imagenet": "imagenet"}.get(args.weights, args.weights)
        if args.weights == "he":
            weights = he_weights_file(root / "vgg16_he_notop.weights.h5", args.seed)
        project = make_project(root, args, weights)
        # The synthetic archive is generated once, untimed; the timed run still reads and
        # processes it (data_processing is part of the fish_subset pipeline).
        run_kedro(project, ["data_processing"])
        pipeline_seconds = run_kedro(project, ["fish_subset"])
        data = project / "data"
        metrics = json.loads((data / "08_reporting/fish_subset/metrics.json").read_text())
        summary = json.loads(
            (data / "07_model_output/fish_subset/training_summary.json").read_text()
        )
        paper = run_paper_appendix(project, args, weights)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    import tensorflow as tf

    counts = paper["counts"]
    features = summary["feature_cache"]
    head_seconds = summary["head_training_seconds"]
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"

    def row(label: str, seconds: float, accuracy: float | None = None) -> None:
        print(f"{label:<48}{seconds:>10.1f}" + ("" if accuracy is None else f"{accuracy:>10.3f}"))

    print(f"\nfish_subset vs paper 004 appendix — {device}")
    print(
        f"5 classes; per class {args.train_per_class} training images ({counts['train']} train / "
        f"{counts['validation']} validation in all) and {args.test_per_class} test images "
        f"({counts['test']} in all); {args.image_size}×{args.image_size} input; "
        f"{args.epochs} epochs; VGG16 weights: {args.weights}; seed {args.seed}\n"
    )
    print(f"{'run':<48}{'wall s':>10}{'test acc':>10}")
    row("pipeline: kedro run --pipelines=fish_subset", pipeline_seconds, metrics["accuracy"])
    row("  VGG16 features (train + validation, once)", features["seconds"])
    row(f"  head training (engine, {summary['epochs_run']} epochs)", head_seconds)
    row(
        "  everything else (data, save, reports, Kedro)",
        pipeline_seconds - features["seconds"] - head_seconds,
    )
    row("paper appendix: cv2 resize + fit full network", paper["seconds"], paper["test_accuracy"])
    row("  cv2 resize loop", paper["resize_seconds"])
    row(f"  model.fit ({args.epochs} epochs)", paper["fit_seconds"])
    print(f"\nspeed-up (paper appendix / pipeline): {paper['seconds'] / pipeline_seconds:.1f}×")
    difference = metrics["accuracy"] - paper["test_accuracy"]
    print(
        f"test accuracy: pipeline {metrics['accuracy']:.3f}, paper appendix "
        f"{paper['test_accuracy']:.3f} (difference {difference:+.3f}; {counts['test']} test images)"
    )
    if args.keep:
        print(f"project kept at {root}")


if __name__ == "__main__":
    sys.exit(main())
