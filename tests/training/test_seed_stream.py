"""A thread drawing from Python's global ``random`` (as a Dask worker's event loop does) does
not change the model a seeded training builds: Keras' default seeds come from the engine's
private stream while it trains."""

from __future__ import annotations

import random
import threading

import numpy as np

from cifar100_kedro.training.device import configure_device
from cifar100_kedro.training.engine import fit_model
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data


def _weights(work_dir):
    configure_device({"deterministic": True})
    model, _, _ = fit_model(
        _tiny_data(), _tiny_data(seed=1), None, MODEL, {**RECIPE, "epochs": 1},
        architecture="arch", work_dir=work_dir, seed=3,
    )  # fmt: skip
    return model.get_weights()


def test_another_thread_using_global_random_leaves_the_trained_weights_as_they_were(tmp_path):
    quiet = _weights(tmp_path / "quiet")
    stop = threading.Event()

    def draw_forever():
        while not stop.is_set():
            random.random()

    noise = threading.Thread(target=draw_forever, daemon=True)
    noise.start()
    try:
        noisy = _weights(tmp_path / "noisy")
    finally:
        stop.set()
        noise.join()
    assert len(quiet) == len(noisy)
    assert all(np.array_equal(a, b) for a, b in zip(quiet, noisy))
