"""The run folder of one training: resumable state, history, best checkpoint, one writer.

``<training_run.work_dir>/<namespace>/`` holds

- ``backup/``: the whole training state after the last finished epoch (:mod:`.resume`:
  weights, optimiser variables, every random-number state, callback states, the history),
  written atomically, with the fingerprint of the recipe and data it belongs to;
- ``history.csv``: the finished epochs, rewritten atomically from that state;
- ``best.weights.h5``: the recipe's ``model_checkpoint``, when it has one;
- ``budget.json``: what a ``time_budget_minutes`` recipe measured and chose (network
  candidate, epochs or partial-epoch steps), so a resumed run trains the same instead of
  measuring again (a run with no saved state to resume measures again).

Beside it, ``<namespace>.lock`` is held while the folder is in use.

This is the one resume mechanism: every task (classification, reconstruction), the fish
head, folds and search trials train through it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from pathlib import Path

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

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_handle = None

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def backup_dir(self) -> Path:
        return self.path / "backup"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def __enter__(self) -> RunFolder:  # noqa: PYI034  (a final class: Self adds nothing)
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # held until __exit__
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

    def open(self, resumable: bool) -> None:
        """Prepare the folder: kept for a resumable recipe (the state decides whether it
        matches), cleared for one without ``backup_and_restore``."""
        if not resumable and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def recorded_budget(self, fingerprint: str) -> dict | None:
        """What a budget recipe measured and chose for ``fingerprint`` (None: not yet)."""
        try:
            record = json.loads((self.path / "budget.json").read_text())
        except (OSError, ValueError):
            return None
        return record.get("choice") if record.get("fingerprint") == fingerprint else None

    def record_budget(self, fingerprint: str, choice: dict) -> None:
        """Keep the budget's choice (written atomically) for a resumed run."""
        temporary = self.path / "budget.json.tmp"
        temporary.write_text(json.dumps({"fingerprint": fingerprint, "choice": choice}))
        os.replace(temporary, self.path / "budget.json")
