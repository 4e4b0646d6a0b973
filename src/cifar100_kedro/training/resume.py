"""Resumable training: the whole training state, saved atomically at every epoch end.

Keras' ``BackupAndRestore`` saves the weights, the optimiser's variables and an epoch number,
and nothing else. A resumed run then starts its first epoch with the data order, augmentation
and dropout random streams of epoch 1 and with reset callbacks, and trains another model.
This module saves and restores all of it:

- weights and optimiser variables (iteration count, so the learning-rate schedule position,
  Adam's moments, the current learning rate set by ReduceLROnPlateau): ``model.save_weights``;
- every ``SeedGenerator`` state of the model (augmentation layers, dropout, also the unseeded
  ones), Keras' global seed generator, Python's and NumPy's global generators, and any extra
  generators passed in (augmentation layers that run in tf.data);
- callback state: EarlyStopping (wait, best, best epoch, best weights, stopped epoch),
  ReduceLROnPlateau (wait, cooldown, best), ModelCheckpoint (best and its best file), any
  callback with ``get_state() -> dict`` / ``set_state(dict)``;
- the epoch count, whether training has finished (or early-stopped), and the history.

The data order is not state: :func:`epoch_dataset` makes epoch ``e``'s order a pure function
of ``(seed, e)``, with ``e`` read from the optimiser's restored step counter.

Backup folder layout (``backup_dir``)::

    state-000007/                       one complete state (7 = save number, not the epoch)
        state.json                      format, epoch count, finished/stopped, fingerprint,
                                        history rows, callback states, seed-generator names
        model.weights.h5                weights + optimiser variables (model.save_weights:
                                        iteration, learning_rate, Adam's momenta/velocities)
        rng.npz                         every seed-generator state (model order, then the
                                        extra ones), Keras' global seed generator (if made),
                                        NumPy's and Python's global generator states
        <i>_early_stopping_best.npz     EarlyStopping.best_weights (callback i, if any); a
                                        hard link to the previous state's file while unchanged
        <i>_model_checkpoint_best.<ext> a copy of ModelCheckpoint's best file (callback i);
                                        hard-linked likewise while its ``best`` is unchanged
    .tmp-state-000008-<pid>/            a state being written (never read; removed by the
                                        next save)

A state is written into a ``.tmp-…`` folder, fsynced, then renamed to ``state-NNNNNN``
(atomic), and only then are older states removed. A kill at any moment leaves the previous
complete state readable. A complete state that cannot be read raises :class:`BackupError`
naming the file; the caller decides (e.g. :func:`clear` and start again).

The engine (``training/engine.py``) is its one user; the recipe key ``backup_and_restore``
turns saving on. Usage (the state callback goes after the callbacks it manages)::

    keras.utils.set_random_seed(seed)            # before the model is built, in every process
    model = build_and_compile()
    state = TrainingState(work_dir / "backup", callbacks=callbacks, fingerprint=recipe_hash,
                          history_csv=work_dir / "history.csv")
    train_ds = epoch_dataset(x, y, batch_size, seed=seed, iterations=model.optimizer.iterations)
    model.fit(train_ds, epochs=epochs, validation_data=val_ds, callbacks=[*callbacks, state],
              shuffle=False)                # the order is the dataset's (epoch_dataset)
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cifar100_kedro.training.inputs import pipeline_options

logger = logging.getLogger(__name__)

FORMAT = 1
STATE_PREFIX = "state-"
TMP_PREFIX = ".tmp-"
STATE_FILE = "state.json"
WEIGHTS_FILE = "model.weights.h5"
RNG_FILE = "rng.npz"
ES_BEST_FILE = "early_stopping_best.npz"
CKPT_BEST_STEM = "model_checkpoint_best"


class BackupError(RuntimeError):
    """A training-state backup that cannot be used; ``path`` names the file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        super().__init__(
            f"training-state backup file {self.path} cannot be used: {reason} "
            "(clear the backup folder to train this model from the start)"
        )


# ----------------------------------------------------------------------------- files
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader sees the old or the new file, never a part."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # our state files are never modified in place
    except OSError:
        shutil.copy2(source, target)


def state_dirs(backup_dir: Path | str) -> list[Path]:
    """The complete states in ``backup_dir``, oldest first."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    found = []
    for path in backup_dir.iterdir():
        suffix = path.name[len(STATE_PREFIX) :]
        if path.is_dir() and path.name.startswith(STATE_PREFIX) and suffix.isdigit():
            found.append((int(suffix), path))
    return [path for _, path in sorted(found)]


def latest_state(backup_dir: Path | str) -> Path | None:
    dirs = state_dirs(backup_dir)
    return dirs[-1] if dirs else None


def read_state(state_dir: Path) -> dict[str, Any]:
    """``state.json`` of one complete state; :class:`BackupError` if unreadable."""
    path = state_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(path, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BackupError(path, f"not a format-{FORMAT} training state")
    return state


def has_backup(backup_dir: Path | str) -> bool:
    return latest_state(backup_dir) is not None


def clear_if_finished(backup_dir: Path | str) -> bool:
    """Delete a backup whose training finished (its outputs are saved); return whether."""
    latest = latest_state(backup_dir)
    try:
        finished = latest is not None and bool(read_state(latest).get("finished"))
    except BackupError:
        return False
    if finished:
        clear(backup_dir)
    return finished


def clear(backup_dir: Path | str) -> None:
    """Delete a backup folder (e.g. after a :class:`BackupError`, to start again)."""
    shutil.rmtree(backup_dir, ignore_errors=True)


# ----------------------------------------------------------------------------- values
def _encode(value: Any) -> Any:
    """JSON for a callback attribute, keeping NumPy scalar types (comparisons stay exact)."""
    if isinstance(value, np.generic):
        return {"__numpy__": value.dtype.str, "value": value.item()}
    if hasattr(value, "numpy") and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        array = np.asarray(value)
        return {"__numpy__": array.dtype.str, "value": array.item()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__numpy__" in value:
        return np.dtype(value["__numpy__"]).type(value["value"])
    if isinstance(value, dict) and "__float__" in value:
        return float(value["__float__"])
    return value


# ----------------------------------------------------------------------------- random state
def model_seed_generators(model: keras.Model) -> list[Any]:
    """Every ``SeedGenerator`` of ``model`` and its nested layers, in a stable order."""
    generators, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", []):
            if id(generator) not in seen:
                seen.add(id(generator))
                generators.append(generator)
    return generators


def _keras_global_seed_generator(create: bool = False):
    """Keras' global ``SeedGenerator`` (unseeded ``keras.random`` calls), or None."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:  # a Keras without these internals: nothing to save
        return None

    generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    if generator is None and create:
        generator = seed_generator.global_seed_generator()
    return generator


# ----------------------------------------------------------------------------- callbacks
def _callback_key(index: int, callback: keras.callbacks.Callback) -> str:
    return f"{index}:{type(callback).__name__}"


class TrainingState(keras.callbacks.Callback):
    """Saves the whole training state at each epoch end and restores it at train begin.

    Args:
        backup_dir: the folder of the states (created when needed; nothing else may live there).
        callbacks: the other callbacks of the fit whose state is saved (EarlyStopping,
            ReduceLROnPlateau, ModelCheckpoint, or any with ``get_state``/``set_state``).
        fingerprint: a string identifying the run (recipe, data, seed, epochs). A backup
            with another fingerprint is stale: deleted with a warning (``on_stale="restart"``)
            or refused (``on_stale="raise"``).
        history_csv: a CSV rewritten (atomically) from the saved history after every save
            and at restore, so it never holds an epoch that the state does not.
        history_row: ``(epoch, logs, model, seconds) -> dict`` for one history row; the
            default is ``{"epoch": epoch + 1, **logs, "learning_rate": …, "seconds": …}``.
        columns: the CSV's columns (default: the keys of the first row).
        extra_seed_generators: generators outside the model to save (e.g. augmentation
            layers mapped in tf.data: ``[g for layer in layers for g in layer._seed_generators]``).
        delete_on_finish: delete the backup at train end. Default False: a finished state is
            kept so that a rerun after a kill between training and saving the outputs returns
            the same model without training again (the fit then runs zero epochs).
        keep: how many complete states to keep (at least 1).
        persist: save states (default). ``False`` keeps only the history (a recipe without
            ``backup_and_restore``: it trains from the start on every run).

    Put it after the callbacks it manages (``callbacks=``): its epoch-end save must include
    what they did in that epoch, and its restore must come after their train-begin resets
    (it restores their state again at the first epoch begin, in case). Callbacks that only
    report (loggers, trackers) may come after it, and then see only committed epochs.
    """

    def __init__(
        self,
        backup_dir: Path | str,
        *,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        fingerprint: str | None = None,
        on_stale: str = "restart",
        history_csv: Path | str | None = None,
        history_row: Callable[[int, dict, keras.Model, float], dict] | None = None,
        columns: Sequence[str] | None = None,
        extra_seed_generators: Sequence[Any] = (),
        delete_on_finish: bool = False,
        keep: int = 1,
        persist: bool = True,
    ) -> None:
        super().__init__()
        if on_stale not in ("restart", "raise"):
            raise ValueError(f"on_stale must be 'restart' or 'raise', not {on_stale!r}")
        self.backup_dir = Path(backup_dir)
        self.managed = [c for c in callbacks if c is not self]
        self.fingerprint = fingerprint
        self.on_stale = on_stale
        self.history_csv = Path(history_csv) if history_csv else None
        self.history_row = history_row or _default_history_row
        self.columns = list(columns) if columns else None
        self.extra_seed_generators = list(extra_seed_generators)
        self.delete_on_finish = delete_on_finish
        self.keep = max(1, int(keep))
        self.persist = persist
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # finished epochs
        self.finished = False
        self._restore_from = self._peek()
        self._pending_callbacks = False
        self._callback_values: list[tuple[keras.callbacks.Callback, dict]] = []
        self._started = 0.0
        self._cpu_started = 0.0
        self._epochs_this_fit = 0
        self._restored_finished = False
        # Files of the last saved state, to hard-link unchanged best weights.
        self._saved_es_best: dict[int, tuple[Any, Path]] = {}
        self._saved_ckpt_best: dict[int, tuple[Any, Path]] = {}

    # ------------------------------------------------------------------ peeking
    def _peek(self) -> tuple[Path, dict] | None:
        path = latest_state(self.backup_dir)
        if path is None:
            return None
        state = read_state(path)
        if self.fingerprint is not None and state.get("fingerprint") != self.fingerprint:
            if self.on_stale == "raise":
                raise BackupError(
                    path / STATE_FILE, "it was written by another run (fingerprint differs)"
                )
            logger.warning(
                "discarding the stale training state in %s (another recipe, data or seed)",
                self.backup_dir,
            )
            clear(self.backup_dir)
            return None
        return path, state

    @property
    def initial_epoch(self) -> int:
        """The number of finished epochs in the backup: the epoch the fit resumes at."""
        return int(self._restore_from[1]["epoch"]) if self._restore_from else 0

    @property
    def resuming(self) -> bool:
        return self._restore_from is not None

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        self._epochs_this_fit = 0
        self._restored_finished = False
        if self._restore_from is None:
            self._pending_callbacks = False
            self.finished = False  # a new fit trains (its epochs continue the history)
            return
        path, state = self._restore_from
        current = latest_state(self.backup_dir)
        if current != path:
            raise BackupError(
                self.backup_dir, f"it changed since it was read ({path.name} → {current})"
            )
        self._restore_model(path)
        self._restore_rng(path, state)
        self.history = [dict(row) for row in state.get("history", [])]
        self.epoch = int(state["epoch"])
        self._restored_finished = bool(state.get("finished"))
        self.finished = self._restored_finished or bool(state.get("stopped"))
        self._restore_callbacks(path, state.get("callbacks", {}))
        self._pending_callbacks = True
        self._write_history_csv()
        target = self.params.get("epochs", self.epoch) if self.finished else self.epoch
        self.model._initial_epoch = max(self.epoch, int(target))
        logger.info(
            "restored the training state after epoch %d from %s%s",
            self.epoch,
            path,
            " (finished)" if self.finished else "",
        )
        self._restore_from = None  # a second fit with this callback starts from its own state

    def _restore_model(self, path: Path) -> None:
        weights = path / WEIGHTS_FILE
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except Exception as exc:  # h5py raises OSError, Keras ValueError on mismatches
            raise BackupError(weights, f"{type(exc).__name__}: {exc}") from exc

    def _restore_rng(self, path: Path, state: dict) -> None:
        file = path / RNG_FILE
        try:
            with np.load(file) as saved:
                arrays = {k: saved[k] for k in saved.files}
        except Exception as exc:
            raise BackupError(file, f"{type(exc).__name__}: {exc}") from exc
        generators = model_seed_generators(self.model) + self.extra_seed_generators
        count = int(arrays["generator_count"])
        if count != len(generators):
            raise BackupError(
                file, f"it holds {count} seed-generator states, the model has {len(generators)}"
            )
        for index, generator in enumerate(generators):
            value = arrays[f"generator_{index}"]
            if tuple(value.shape) != tuple(generator.state.shape):
                raise BackupError(
                    file, f"seed generator {index} ({generator.name}) has another shape"
                )
            generator.state.assign(value)
        keras_global = (
            _keras_global_seed_generator(create=True) if "keras_global" in arrays else None
        )
        if keras_global is not None:
            keras_global.state.assign(arrays["keras_global"])
        if "numpy_keys" in arrays:
            np.random.set_state(
                (
                    "MT19937",
                    arrays["numpy_keys"],
                    int(arrays["numpy_pos"]),
                    int(arrays["numpy_has_gauss"]),
                    float(arrays["numpy_cached_gaussian"]),
                )
            )
        if "python_internal" in arrays:
            gauss = float(arrays["python_gauss"]) if int(arrays["python_has_gauss"]) else None
            random.setstate(
                (
                    int(arrays["python_version"]),
                    tuple(int(v) for v in arrays["python_internal"]),
                    gauss,
                )
            )

    def _restore_callbacks(self, path: Path, saved: dict[str, Any]) -> None:
        """Read the saved callback states (and their files) into ``self._callback_values``."""
        self._callback_values = []
        for index, callback in enumerate(self.managed):
            key = _callback_key(index, callback)
            if key not in saved:
                continue
            values = {k: _decode(v) for k, v in saved[key].items()}
            files = values.pop("__files__", {})
            if isinstance(callback, keras.callbacks.EarlyStopping):
                values["best_weights"] = None
                if "best_weights" in files:
                    file = path / files["best_weights"]
                    try:
                        with np.load(file) as arrays:
                            values["best_weights"] = [
                                arrays[f"w{i}"] for i in range(len(arrays.files))
                            ]
                    except Exception as exc:
                        raise BackupError(file, f"{type(exc).__name__}: {exc}") from exc
                    self._saved_es_best[index] = (values["best_weights"], file)
            elif isinstance(callback, keras.callbacks.ModelCheckpoint) and "best_file" in files:
                source = path / files["best_file"]
                target = Path(callback.filepath)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f"{TMP_PREFIX}{target.name}-{os.getpid()}")
                shutil.copy2(source, tmp)
                os.replace(tmp, target)  # undoes a half-written or newer best file
                self._saved_ckpt_best[index] = (values["best"], source)
            self._callback_values.append((callback, values))
        self._apply_callback_values()

    def _apply_callback_values(self) -> None:
        for callback, values in self._callback_values:
            if isinstance(
                callback,
                (
                    keras.callbacks.EarlyStopping,
                    keras.callbacks.ReduceLROnPlateau,
                    keras.callbacks.ModelCheckpoint,
                ),
            ):
                for name, value in values.items():
                    setattr(callback, name, value)
            elif hasattr(callback, "set_state"):
                callback.set_state(dict(values))

    # ------------------------------------------------------------------ save
    def on_epoch_begin(self, epoch, logs=None):
        if self._pending_callbacks and self._epochs_this_fit == 0:
            # Again, in case a callback listed after this one reset itself at train begin.
            self._apply_callback_values()
        self._pending_callbacks = False
        self._started = time.perf_counter()
        self._cpu_started = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        self._epochs_this_fit += 1
        self.epoch = epoch + 1
        row = self.history_row(epoch, dict(logs or {}), self.model, seconds)
        # The process's CPU time (every thread: the model's ops and the tf.data workers):
        # what the time-to-accuracy report compares on machines whose wall clock is shared.
        row.setdefault("cpu_seconds", time.process_time() - self._cpu_started)
        self.history.append(row)
        if self.persist:
            self.save(stopped=bool(self.model.stop_training))
        else:
            self._write_history_csv()

    def on_train_end(self, logs=None):
        if not self.persist:
            return
        if self.delete_on_finish:
            clear(self.backup_dir)
            return
        if self._epochs_this_fit or not self._restored_finished:
            # After EarlyStopping (listed before this callback) restored its best weights.
            self.finished = True
            self.save(stopped=bool(self.model.stop_training))

    def save(self, stopped: bool = False) -> Path:
        """Write the current state as a new complete state; return its folder."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        existing = state_dirs(self.backup_dir)
        number = int(existing[-1].name[len(STATE_PREFIX) :]) + 1 if existing else 1
        final = self.backup_dir / f"{STATE_PREFIX}{number:06d}"
        tmp = self.backup_dir / f"{TMP_PREFIX}{final.name}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        self.model.save_weights(tmp / WEIGHTS_FILE)
        state = {
            "format": FORMAT,
            "epoch": self.epoch,
            "finished": self.finished,
            "stopped": stopped,
            "fingerprint": self.fingerprint,
            "history": self.history,
            "callbacks": self._save_callbacks(tmp, final),
            "seed_generators": [
                g.name for g in model_seed_generators(self.model) + self.extra_seed_generators
            ],
            "saved_at": time.time(),
        }
        self._save_rng(tmp)
        (tmp / STATE_FILE).write_text(json.dumps(state, default=_json_default))
        for file in tmp.iterdir():
            _fsync(file)
        _fsync(tmp)
        os.replace(tmp, final)  # the commit
        _fsync(self.backup_dir)
        for old in existing[: max(0, len(existing) + 1 - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.backup_dir.glob(f"{TMP_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(
                missing_ok=True
            )
        self._write_history_csv()
        return final

    def _save_rng(self, folder: Path) -> None:
        generators = model_seed_generators(self.model) + self.extra_seed_generators
        arrays = {
            f"generator_{i}": np.asarray(keras.ops.convert_to_numpy(g.state))
            for i, g in enumerate(generators)
        }
        arrays["generator_count"] = np.asarray(len(generators))
        keras_global = _keras_global_seed_generator()
        if keras_global is not None:
            arrays["keras_global"] = np.asarray(keras.ops.convert_to_numpy(keras_global.state))
        _, keys, pos, has_gauss, cached = np.random.get_state()
        arrays.update(
            numpy_keys=keys,
            numpy_pos=np.asarray(pos),
            numpy_has_gauss=np.asarray(has_gauss),
            numpy_cached_gaussian=np.asarray(cached),
        )
        version, internal, gauss = random.getstate()
        arrays.update(
            python_version=np.asarray(version),
            python_internal=np.asarray(internal, dtype=np.int64),
            python_has_gauss=np.asarray(gauss is not None),
            python_gauss=np.asarray(gauss or 0.0),
        )
        np.savez(folder / RNG_FILE, **arrays)

    def _save_callbacks(self, folder: Path, final: Path) -> dict[str, Any]:
        saved: dict[str, Any] = {}
        for index, callback in enumerate(self.managed):
            key = _callback_key(index, callback)
            files: dict[str, str] = {}
            if isinstance(callback, keras.callbacks.EarlyStopping):
                values = {
                    name: getattr(callback, name, None)
                    for name in ("wait", "stopped_epoch", "best", "best_epoch")
                }
                if callback.best_weights is not None:
                    target = folder / f"{index}_{ES_BEST_FILE}"
                    previous = self._saved_es_best.get(index)
                    if previous and previous[0] is callback.best_weights and previous[1].exists():
                        _link_or_copy(previous[1], target)
                    else:
                        np.savez(
                            target, **{f"w{i}": w for i, w in enumerate(callback.best_weights)}
                        )
                    self._saved_es_best[index] = (callback.best_weights, final / target.name)
                    files["best_weights"] = target.name
            elif isinstance(callback, keras.callbacks.ReduceLROnPlateau):
                values = {
                    name: getattr(callback, name, None)
                    for name in ("wait", "cooldown_counter", "best")
                }
            elif isinstance(callback, keras.callbacks.ModelCheckpoint):
                values = {"best": callback.best}
                source = Path(callback.filepath)
                if "{" not in callback.filepath and source.exists():
                    target = folder / f"{index}_{CKPT_BEST_STEM}{''.join(source.suffixes)}"
                    previous = self._saved_ckpt_best.get(index)
                    if (
                        callback.save_best_only
                        and previous
                        and previous[0] == callback.best
                        and previous[1].exists()
                    ):
                        _link_or_copy(previous[1], target)
                    else:
                        shutil.copy2(source, target)
                    self._saved_ckpt_best[index] = (callback.best, final / target.name)
                    files["best_file"] = target.name
            elif hasattr(callback, "get_state"):
                values = dict(callback.get_state())
            else:
                continue
            encoded = {k: _encode(v) for k, v in values.items()}
            if files:
                encoded["__files__"] = files
            saved[key] = encoded
        return saved

    def _write_history_csv(self) -> None:
        if self.history_csv is None:
            return
        import pandas as pd

        frame = pd.DataFrame(self.history, columns=self.columns)
        self.history_csv.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.history_csv, frame.to_csv(index=False))


def _default_history_row(
    epoch: int, logs: dict, model: keras.Model, seconds: float
) -> dict[str, Any]:
    row: dict[str, Any] = {"epoch": epoch + 1}
    row.update({k: float(v) for k, v in logs.items() if np.ndim(v) == 0})
    if "learning_rate" not in row and model.optimizer is not None:
        row["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    row["seconds"] = seconds
    return row


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ----------------------------------------------------------------------------- data
def steps_per_epoch(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size)


def epoch_permutation(count: int, seed: int, epoch: int | tf.Tensor) -> tf.Tensor:
    """Epoch ``epoch``'s order of ``count`` examples: a pure function of ``(seed, epoch)``."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=key)


def epoch_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    seed: int,
    iterations: Any,
    shuffle: bool = True,
    num_classes: int | None = None,
    one_hot: bool = False,
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
    augment_seed_generators: Sequence[Any] = (),
    reconstruct: bool = False,
    epoch_steps: int | None = None,
    autotune: bool = False,
) -> tf.data.Dataset:
    """One epoch of training batches, in the order of the epoch the optimiser is at.

    ``iterations``: the optimiser's step counter (``model.optimizer.iterations``, restored
    with the optimiser). Each iterator over the dataset (Keras makes one per epoch) serves
    epoch ``e = iterations // steps_per_epoch`` read when it starts, in the order
    ``permutation(seed, e)``: the same however many epochs this process has run
    (``shuffle(reshuffle_each_iteration=True)`` instead restarts every process at epoch 1's
    order). Fit it without ``steps_per_epoch``, so that Keras takes a new iterator each epoch
    (a partial last ``steps_per_execution`` call then stops at the epoch's end).

    ``augment``: a batch → batch function mapped in the pipeline (augmentation placed in
    tf.data). Its layers' seed generators go in ``augment_seed_generators``: their state is
    set from ``(seed, epoch, batch)`` before each batch, so the augmentation is a pure
    function of those too (the map then runs sequentially).

    ``reconstruct``: the target is the image on the [0, 1] scale, not the label (the
    autoencoder; ``labels`` is then ignored).

    ``epoch_steps``: shortened epochs (a time budget filling its time, ``budget.plan_epochs``):
    each epoch is the first ``epoch_steps`` batches of its own order, and the epoch index
    counts these short epochs, so every epoch draws a fresh subset without repeats.

    ``autotune``: tf.data's autotuner (``inputs.pipeline_options``: off by default).
    """
    count = len(labels)
    whole = steps_per_epoch(count, batch_size)
    if epoch_steps is not None and not 1 <= epoch_steps <= whole:
        raise ValueError(f"epoch_steps={epoch_steps}: an epoch has 1 to {whole} steps")
    steps = epoch_steps or whole
    images_t = tf.constant(images)
    labels_t = tf.constant(np.asarray(labels).astype(np.int32))
    counter = getattr(iterations, "value", iterations)  # a Keras variable wraps a tf.Variable

    def one_epoch(_):
        # Read when an iterator starts (the function runs per iterator): the current step count.
        step_count = counter() if callable(counter) else tf.convert_to_tensor(counter)
        epoch = tf.cast(step_count, tf.int64) // steps
        order = (
            epoch_permutation(count, seed, epoch) if shuffle else tf.range(count, dtype=tf.int64)
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return tf.data.Dataset.zip(
            (
                tf.data.Dataset.from_tensors(epoch).repeat(steps),
                tf.data.Dataset.range(steps),
                batches,
            )
        )

    stream = tf.data.Dataset.range(1).flat_map(one_epoch)

    def gather(epoch, step, idx):
        x, y = tf.gather(images_t, idx), tf.gather(labels_t, idx)
        if reconstruct:
            y = tf.cast(x, tf.float32) / 255.0
        if augment is not None:
            assigns = []
            for number, generator in enumerate(augment_seed_generators):
                value = tf.stack(
                    [
                        tf.cast(seed, tf.int64) * 1_000_003 + epoch,
                        tf.cast(step, tf.int64) * 64 + number,
                    ]
                )
                assigns.append(generator.state.assign(tf.cast(value, generator.state.dtype)))
            with tf.control_dependencies(assigns):
                x = augment(tf.identity(x))
        if one_hot:
            y = tf.one_hot(y, num_classes)
        return x, y

    if augment_seed_generators:  # the state assignments must run in order
        stream = stream.map(gather)
    else:
        stream = stream.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    stream = stream.apply(tf.data.experimental.assert_cardinality(steps))
    options = pipeline_options(autotune, deterministic=True)
    return stream.with_options(options).prefetch(tf.data.AUTOTUNE)
