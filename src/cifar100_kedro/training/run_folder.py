"""The run folder of one training: resumable state, per-epoch history, best checkpoint.

``<training_run.work_dir>/<namespace>/`` holds

- ``recipe.json``: the fingerprint of the recipe and data this state belongs to;
- ``backup/``: the resumable training state of the last finished epoch (Keras'
  ``BackupAndRestore``: weights, optimiser variables and the epoch counter);
- ``history.csv``: one row per finished epoch, appended as epochs finish, so a resumed run
  keeps the epochs before the interruption;
- ``best.weights.h5``: the recipe's ``model_checkpoint``, when it has one.

This is the one resume mechanism: every task (classification, reconstruction), the fish
head, folds and search trials train through it. A folder whose fingerprint differs from the
recipe's (the recipe or the data changed) is cleared: it would resume another model.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from pathlib import Path

import keras
import pandas as pd

logger = logging.getLogger(__name__)


class RunFolderLocked(RuntimeError):
    """Another process is training into the same run folder."""


class RunFolder:
    """The state folder of one training run (see the module docstring).

    Used as a context manager it holds an exclusive lock (``<folder>.lock`` beside it) for the
    whole training: a second ``kedro run`` on the same project that reaches the same
    architecture stops at once instead of writing the same state. The operating system
    releases the lock when the holder exits, however it exits (``kill -9`` included).
    """

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._lock_handle = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def __enter__(self) -> RunFolder:  # noqa: PYI034  (a final class: Self adds nothing)
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderLocked(
                f"{self.lock_path} is held by {holder}: another run is training into "
                f"{self.path}. Wait for it to finish (or stop it) and run again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        self._lock_handle = handle
        return self

    def __exit__(self, *exc_info) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def backup_dir(self) -> Path:
        return self.path / "backup"

    @property
    def _recipe_path(self) -> Path:
        return self.path / "recipe.json"

    def _recorded_fingerprint(self) -> str | None:
        try:
            return json.loads(self._recipe_path.read_text()).get("fingerprint")
        except (OSError, ValueError):
            return None

    def open(self, resumable: bool) -> bool:
        """Prepare the folder; return whether training resumes from a backup.

        With ``resumable`` (the recipe's ``backup_and_restore``) and a backup of the same
        fingerprint, the folder is kept; otherwise it is cleared and starts afresh.
        """
        has_backup = self.backup_dir.is_dir() and any(self.backup_dir.iterdir())
        resuming = resumable and has_backup and self._recorded_fingerprint() == self.fingerprint
        if has_backup and resumable and not resuming:
            logger.warning(
                "%s: recipe or data changed since the interrupted run; starting afresh", self.path
            )
        if not resuming and self.path.exists():
            shutil.rmtree(self.path)  # a finished, abandoned or stale earlier run
        self.path.mkdir(parents=True, exist_ok=True)
        if not resuming:
            temporary = self._recipe_path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"fingerprint": self.fingerprint}))
            os.replace(temporary, self._recipe_path)
        return resuming

    def resume_callbacks(self, resumable: bool) -> list[keras.callbacks.Callback]:
        """The callbacks that save (and on a rerun restore) the state after every epoch."""
        return [keras.callbacks.BackupAndRestore(str(self.backup_dir))] if resumable else []

    def read_history(self, columns: tuple[str, ...]) -> pd.DataFrame:
        """Every finished epoch once (a resumed epoch's row replaces the interrupted one)."""
        if not self.history_path.exists():
            return pd.DataFrame(columns=list(columns))
        history = pd.read_csv(self.history_path)
        return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)
