"""The run folder: one writer at a time, stale state cleared, history read once per epoch."""

from __future__ import annotations

import subprocess
import sys
import time

import keras
import pytest

from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.run_folder import RunFolder, RunFolderLocked
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data

HOLD_LOCK = """
import sys, time
from cifar100_kedro.training.run_folder import RunFolder
with RunFolder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_run_on_the_same_architecture_stops_naming_the_lock(tmp_path):
    folder = tmp_path / "state" / "arch"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        data = _tiny_data()
        with pytest.raises(
            RunFolderLocked, match=r"arch\.lock is held by process \d+: another run"
        ):
            fit_model(data, data, None, MODEL, RECIPE, architecture="arch", work_dir=folder)
    finally:
        holder.kill()
        holder.wait()
    # A killed holder's lock is released by the operating system: the next run proceeds.
    time.sleep(0.1)
    with RunFolder(folder):
        pass


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.started = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started.append(epoch + 1)


def test_a_changed_recipe_does_not_resume_the_old_state(tmp_path):
    data = _tiny_data()
    recipe = {**RECIPE, "epochs": 3, "callbacks": {"backup_and_restore": True}}
    with pytest.raises(KeyboardInterrupt):
        fit_model(
            data, data, None, MODEL, recipe, architecture="a", work_dir=tmp_path,
            extra_callbacks=[_Interrupt()],
        )  # fmt: skip
    changed = {**recipe, "optimizer": {"name": "adam", "learning_rate": 5e-4}}
    counter = _EpochCounter()
    _, history, summary = fit_model(
        data, data, None, MODEL, changed, architecture="a", work_dir=tmp_path,
        extra_callbacks=[counter],
    )  # fmt: skip
    assert counter.started == [1, 2, 3] and not summary["resumed"]
    assert list(history["epoch"]) == [1, 2, 3]


def test_an_unreadable_state_is_named_and_the_architecture_restarts(tmp_path, caplog):
    data = _tiny_data()
    recipe = {**RECIPE, "epochs": 2, "callbacks": {"backup_and_restore": True}}
    with pytest.raises(KeyboardInterrupt):
        fit_model(
            data, data, None, MODEL, recipe, architecture="a", work_dir=tmp_path,
            extra_callbacks=[_Interrupt()],
        )  # fmt: skip
    (weights,) = (tmp_path / "backup").glob("state-*/model.weights.h5")
    weights.write_bytes(weights.read_bytes()[:100])  # a disk error, not a kill: torn in place
    counter = _EpochCounter()
    with caplog.at_level("ERROR"):
        _, history, _ = fit_model(
            data, data, None, MODEL, recipe, architecture="a", work_dir=tmp_path,
            extra_callbacks=[counter],
        )  # fmt: skip
    assert str(weights) in caplog.text and "from the start" in caplog.text
    assert counter.started == [1, 2] and list(history["epoch"]) == [1, 2]
