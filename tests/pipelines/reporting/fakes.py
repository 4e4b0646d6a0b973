"""Synthetic inputs for the reporting tests: tiny label spaces, histories, fake models."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd


class FakeModel:
    """Stands in for a keras.Model: ``predict`` returns fixed or generated probabilities."""

    def __init__(self, num_classes: int, probabilities: np.ndarray | None = None, seed: int = 0):
        self.num_classes = num_classes
        self.probabilities = probabilities
        self.seed = seed
        self.calls = 0

    def __call__(self, images, training=False):
        return self.predict(images)

    def predict(self, images, batch_size=32, verbose=0):
        self.calls += 1
        if self.probabilities is not None:
            return self.probabilities
        rng = np.random.default_rng(self.seed)
        logits = rng.normal(size=(len(images), self.num_classes))
        # make the prediction depend on the image so it is learnable-looking
        logits[:, 0] += np.asarray(images, dtype=float).reshape(len(images), -1).mean(axis=1) / 64
        probs = np.exp(logits)
        return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def make_label_names(num_fine: int = 6, group: int = 2) -> dict:
    """``num_fine`` classes in superclasses of ``group`` consecutive classes."""
    num_coarse = num_fine // group
    return {
        "fine": [f"class_{i}" for i in range(num_fine)],
        "coarse": [f"super_{i}" for i in range(num_coarse)],
        "fine_to_coarse": [i // group for i in range(num_fine)],
    }


def make_test_split(label_names: dict, per_class: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    num_fine = len(label_names["fine"])
    fine = np.repeat(np.arange(num_fine), per_class).astype(np.int64)
    mapping = np.asarray(label_names["fine_to_coarse"])
    return {
        "images": rng.integers(0, 256, size=(len(fine), 32, 32, 3), dtype=np.uint8),
        "fine": fine,
        "coarse": mapping[fine].astype(np.int64),
    }


def make_history(epochs: int = 4) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "loss": 3.0 / e,
            "accuracy": 0.2 * e / epochs + 0.1,
            "val_loss": 3.2 / e + 0.05 * e,
            "val_accuracy": 0.15 * e / epochs + 0.1,
            "learning_rate": np.full(epochs, 1e-3),
            "seconds": np.full(epochs, 1.5),
        }
    )


def make_summary(name: str = "toy_cnn", label_mode: str = "fine", num_classes: int = 6) -> dict:
    return {
        "namespace": name,
        "builder": "toy",
        "label_mode": label_mode,
        "num_classes": num_classes,
        "epochs_requested": 5,
        "epochs_run": 4,
        "best_epoch": 2,
        "training_seconds": 12.5,
        "trainable_params": 1234,
        "total_params": 1300,
        "batch_size": 8,
    }


REPORTING = {
    "batch_size": 16,
    "top_k": 2,
    "best_worst_n": 2,
    "prediction_grid": {"rows": 2, "cols": 3, "seed": 0},
    "new_images": {"top_k": 3, "image_size": 32, "crop_to_square": True},
    "mcnemar": {"alpha": 0.05},
}
