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

import json
import logging
import os
import shutil
from pathlib import Path

import keras
import pandas as pd

logger = logging.getLogger(__name__)


class RunFolder:
    """The state folder of one training run (see the module docstring)."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint

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
            logger.warning("%s: recipe or data changed since the interrupted run; starting afresh", self.path)
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
