"""Fault injection: training killed with SIGKILL at several points resumes to the same model.

A tiny Keras model (augmentation and unseeded dropout inside the model, Adam, EarlyStopping,
ReduceLROnPlateau, ModelCheckpoint) trains in real child processes with
``enable_op_determinism``. One run goes uninterrupted; another is SIGKILLed (its whole
process group) at each injected point and rerun until it finishes:

1. during epoch 2 (after epoch 1's backup);
2. during the backup write after epoch 2 (the weights file is written, the state is not
   committed): the previous backup must still be used;
3. during ModelCheckpoint's write of the best file after epoch 3 (the file is left torn):
   the backup must bring the best file back;
4. after training, before the outputs are saved: the rerun must give the same outputs.

Then the histories (to float tolerance), the final weights, optimiser variables, seed
states and the best-checkpoint file must equal the uninterrupted run's.

The resume module under test: ``cifar100_kedro.training.resume``, or ``RESUME_MODULE`` (a file
path or a dotted module name: the suite was used to reject broken variants of it). It
provides ``TrainingState(backup_dir, callbacks=…, fingerprint=…, history_csv=…)`` (a Keras
callback with ``initial_epoch``),
``epoch_dataset(images, labels, batch_size, seed=…, iterations=model.optimizer.iterations)``
and ``BackupError`` (with ``path``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

HISTORY_COLUMNS = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
EPOCHS = 4
PROCESS_TIMEOUT_S = 120


def _resume_target() -> str:
    """The resume module under test (a file path or a dotted module name)."""
    target = os.environ.get("RESUME_MODULE")
    if target:
        return target
    return "cifar100_kedro.training.resume"


def _load_module(target: str):
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("resume_under_test", target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


CHILD = r'''
"""One training process. argv: WORK_DIR RESUME_TARGET. Env KILLPOINT: where to pause."""
import importlib, importlib.util, os, sys, time
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
import keras

work, target = sys.argv[1], sys.argv[2]
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("resume_under_test", target)
    resume = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(resume)
else:
    resume = importlib.import_module(target)

KILLPOINT = os.environ.get("KILLPOINT", "")
EPOCHS, SEED, BATCH = __EPOCHS__, 11, 16
backup_dir = os.path.join(work, "backup")
best_file = os.path.join(work, "best.weights.h5")


def pause(where):
    print(f"PAUSED {where}", flush=True)
    time.sleep(300)  # the test kills the process group here


# ---- fault injection around every weights write (the backup's and ModelCheckpoint's)
_writes = {"backup": 0, "checkpoint": 0}
_save_weights = keras.Model.save_weights


def save_weights(self, filepath, *args, **kwargs):
    _save_weights(self, filepath, *args, **kwargs)
    path = os.path.abspath(str(filepath))
    kind = "checkpoint" if path == os.path.abspath(best_file) else (
        "backup" if path.startswith(os.path.abspath(backup_dir) + os.sep) else None)
    if kind:
        _writes[kind] += 1
        if KILLPOINT == f"{kind}:{_writes[kind]}":
            if kind == "checkpoint":  # a write torn by the kill
                size = os.path.getsize(path)
                with open(path, "r+b") as f:
                    f.truncate(size // 2)
            pause(KILLPOINT)


keras.Model.save_weights = save_weights

keras.utils.set_random_seed(SEED)
tf.config.experimental.enable_op_determinism()
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(48, 8, 8, 3), dtype=np.uint8)
y = (x[..., 0].mean(axis=(1, 2)) * 3 // 256).astype(np.int32)
xv = rng.integers(0, 256, size=(32, 8, 8, 3), dtype=np.uint8)
yv = (xv[..., 0].mean(axis=(1, 2)) * 3 // 256).astype(np.int32)

inputs = keras.Input((8, 8, 3), dtype="uint8")
h = keras.layers.Rescaling(1 / 255.0)(inputs)
h = keras.layers.RandomFlip("horizontal", seed=SEED)(h)
h = keras.layers.RandomTranslation(0.25, 0.25, fill_mode="nearest", seed=SEED + 1)(h)
h = keras.layers.Conv2D(8, 3, activation="relu")(h)
h = keras.layers.Dropout(0.3)(h)  # unseeded: seeded from Python's random by set_random_seed
h = keras.layers.Flatten()(h)
outputs = keras.layers.Dense(3, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])

callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
    # min_delta > any change: the rate halves every epoch after the first (state that matters)
    keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=10.0),
    keras.callbacks.ModelCheckpoint(
        best_file, monitor="val_loss", save_best_only=True, save_weights_only=True
    ),
]


class Injector(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if KILLPOINT == f"batch:{self._epoch + 1}:{batch}":
            pause(KILLPOINT)

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self, "_epoch") and os.path.exists(best_file):
            # After the restore: the best file must be whole (not the torn one of a kill).
            import h5py
            try:
                h5py.File(best_file, "r").close()
                print("BEST_FILE readable", flush=True)
            except OSError:
                print("BEST_FILE torn", flush=True)
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        print(f"EPOCH_END {epoch + 1}", flush=True)


state = resume.TrainingState(backup_dir, callbacks=callbacks, fingerprint="kill-test",
                             history_csv=os.path.join(work, "history.csv"))
print(f"RESUMING_AT {state.initial_epoch}", flush=True)
train = resume.epoch_dataset(x, y, BATCH, seed=SEED, iterations=model.optimizer.iterations)
val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(BATCH)
model.fit(
    train, validation_data=val, epochs=EPOCHS, callbacks=[Injector(), *callbacks, state],
    verbose=0, shuffle=False,
)

if KILLPOINT == "after_fit":
    pause(KILLPOINT)
final = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
final.update({f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)})
seeds = [
    g.state for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", [])
]
final.update({f"seed_{i}": keras.ops.convert_to_numpy(s) for i, s in enumerate(seeds)})
tmp = os.path.join(work, "final.tmp.npz")
np.savez(tmp, **final)
os.replace(tmp, os.path.join(work, "final.npz"))
print("DONE", flush=True)
'''


def _run_child(
    script: Path, work: Path, target: str, killpoint: str | None
) -> tuple[str, list[str]]:
    """Run one training process; SIGKILL its process group when it pauses at ``killpoint``.

    Returns ``("killed" | "done", stdout lines)``.
    """
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("KILLPOINT", None)
    if killpoint:
        env["KILLPOINT"] = killpoint
    proc = subprocess.Popen(
        [sys.executable, str(script), str(work), target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    watchdog = threading.Timer(PROCESS_TIMEOUT_S, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.start()
    lines, outcome = [], None
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("PAUSED"):
                os.killpg(proc.pid, signal.SIGKILL)
                outcome = "killed"
                break
        proc.wait()
        stderr = proc.stderr.read()
    finally:
        watchdog.cancel()
        proc.stdout.close()
        proc.stderr.close()
    if outcome is None:
        assert proc.returncode == 0, (
            f"child failed (rc {proc.returncode}; -9 after {PROCESS_TIMEOUT_S} s is the "
            f"watchdog):\n{stderr[-3000:]}"
        )
        assert "DONE" in lines, lines
        outcome = "done"
    return outcome, lines


def _read_best_file(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays = {}

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with h5py.File(path, "r") as f:
        f.visititems(collect)
    return arrays


def test_sigkilled_run_resumes_to_the_uninterrupted_model(tmp_path):
    target = _resume_target()
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD).replace("__EPOCHS__", str(EPOCHS)))

    reference = tmp_path / "uninterrupted"
    assert _run_child(script, reference, target, None)[0] == "done"

    killed = tmp_path / "killed"
    plan = [  # (kill point, outcome, the epoch the process starts at)
        ("batch:2:1", "killed", 0),  # during epoch 2
        ("backup:1", "killed", 1),  # in the backup write after epoch 2: epoch 1's backup stays
        ("checkpoint:2", "killed", 1),  # ModelCheckpoint's best file torn after epoch 3 (its
        # writes in this process: epoch 2, epoch 3)
        ("after_fit", "killed", 2),  # trained to the end, outputs not yet saved
        (None, "done", EPOCHS),  # the finished state: no training, the same outputs
    ]
    for killpoint, expected, start in plan:
        outcome, lines = _run_child(script, killed, target, killpoint)
        assert outcome == expected, (killpoint, lines)
        assert f"RESUMING_AT {start}" in lines, (killpoint, lines)
        if 0 < start < EPOCHS:  # the restored best checkpoint is whole, even after the torn write
            assert "BEST_FILE readable" in lines, (killpoint, lines)

    ours = pd.read_csv(reference / "history.csv")
    theirs = pd.read_csv(killed / "history.csv")
    assert list(theirs["epoch"]) == list(ours["epoch"]) == list(range(1, len(ours) + 1))
    np.testing.assert_allclose(
        theirs[HISTORY_COLUMNS].to_numpy(), ours[HISTORY_COLUMNS].to_numpy(), rtol=1e-6, atol=1e-7
    )
    assert ours["learning_rate"].nunique() > 1  # ReduceLROnPlateau acted: its state mattered

    with np.load(reference / "final.npz") as a, np.load(killed / "final.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-7, err_msg=key)

    best_a, best_b = (
        _read_best_file(reference / "best.weights.h5"),
        _read_best_file(killed / "best.weights.h5"),
    )
    assert best_a.keys() == best_b.keys()
    for key in best_a:
        np.testing.assert_allclose(best_b[key], best_a[key], rtol=1e-6, atol=1e-7, err_msg=key)


def _tiny_fit(resume, backup_dir: Path, epochs: int = 1) -> None:
    import keras

    keras.utils.set_random_seed(3)
    x = np.random.default_rng(0).integers(0, 256, size=(16, 4, 4, 3), dtype=np.uint8)
    y = np.arange(16) % 2
    inputs = keras.Input((4, 4, 3), dtype="uint8")
    h = keras.layers.Dropout(0.2)(keras.layers.Flatten()(keras.layers.Rescaling(1 / 255.0)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    state = resume.TrainingState(backup_dir, fingerprint="tiny")
    data = resume.epoch_dataset(x, y, 8, seed=3, iterations=model.optimizer.iterations)
    model.fit(data, epochs=epochs, callbacks=[state], verbose=0, shuffle=False)


@pytest.mark.parametrize("torn", ["weights files", "every file"])
def test_an_unreadable_backup_raises_an_error_naming_the_file(tmp_path, torn):
    resume = _load_module(_resume_target())
    backup = tmp_path / "backup"
    _tiny_fit(resume, backup)
    pattern = "*.weights.h5" if torn == "weights files" else "*"
    files = sorted(f for f in backup.rglob(pattern) if f.is_file())
    assert files, list(backup.rglob("*"))
    for (
        file
    ) in files:  # as a disk fault would leave them (a kill cannot: writes are committed whole)
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(resume.BackupError) as error:
        _tiny_fit(resume, backup, epochs=2)
    assert Path(error.value.path) in files
    assert str(error.value.path) in str(error.value)
