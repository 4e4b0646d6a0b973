"""Checks that need a fresh TensorFlow process (device settings apply before TF starts).

Run as ``python -m tests.training._subprocess_checks <check>``; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile

import numpy as np


def _tiny_data(n=64, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = rng.integers(0, 60, size=(n, 32, 32, 3), dtype=np.uint8)
    images[np.arange(n), :, :, labels % 3] += 150  # learnable: the class brightens one channel
    coarse = labels // 2
    return {"images": images, "fine": labels.astype(np.int64), "coarse": coarse.astype(np.int64)}


RECIPE = {
    "label_mode": "fine",
    "epochs": 2,
    "batch_size": 16,
    "normalization": "rescale",
    "optimizer": {"name": "adam", "learning_rate": 1e-3},
    "verbose": 0,
    "augmentation": [{"name": "random_flip", "mode": "horizontal"}],
}
MODEL = {"builder": "chavez_progressive", "stage": 4}


def train_once(work_dir, recipe=None, **device):
    from cifar100_kedro.training.device import configure_device
    from cifar100_kedro.training.engine import fit_model

    state = configure_device(device)
    data = _tiny_data()
    model, history, summary = fit_model(
        data,
        _tiny_data(seed=1),
        None,
        MODEL,
        recipe or RECIPE,
        architecture="probe",
        work_dir=work_dir,
        device_settings=device,
    )
    return model, history, summary, state


def main(check: str) -> None:
    if check == "deterministic":
        # Both augmentation placements: in the model, and in the parallel tf.data map.
        from cifar100_kedro.training.device import configure_device
        from cifar100_kedro.training.engine import fit_model

        device = {"seed": 7, "deterministic": True}
        configure_device(device)
        outcome = {}
        for placement in ("model", "dataset"):
            recipe = {**RECIPE, "augmentation_placement": placement}
            weights = []
            for _ in range(2):
                with tempfile.TemporaryDirectory() as tmp:
                    model, _, summary = fit_model(
                        _tiny_data(),
                        _tiny_data(seed=1),
                        None,
                        MODEL,
                        recipe,
                        architecture="probe",
                        work_dir=tmp,
                        device_settings=device,
                    )
                    weights.append([w.copy() for w in model.get_weights()])
            same = all(np.array_equal(a, b) for a, b in zip(*weights))
            outcome[placement] = {
                "identical": bool(same),
                "arrays": len(weights[0]),
                "placement": summary["augmentation_placement"],
            }
        print(json.dumps(outcome))
    elif check == "mirrored":
        with tempfile.TemporaryDirectory() as tmp:
            # Augmenting in the tf.data map: the distributed dataset must carry the layers' state.
            recipe = {**RECIPE, "augmentation_placement": "dataset"}
            model, history, summary, state = train_once(
                tmp, recipe, strategy="mirrored", cpu_logical_devices=2
            )
        print(
            json.dumps(
                {
                    "replicas": state.strategy.num_replicas_in_sync,
                    "strategy": type(state.strategy).__name__,
                    "epochs": summary["epochs_run"],
                    "finite_loss": bool(np.isfinite(history["loss"]).all()),
                    "placement": summary["augmentation_placement"],
                }
            )
        )
    else:
        raise SystemExit(f"unknown check {check!r}")


if __name__ == "__main__":
    main(sys.argv[1])
