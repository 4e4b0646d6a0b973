"""The run folder: one writer at a time, stale state cleared, history read once per epoch."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cifar100_kedro.training.engine import fit_model
from cifar100_kedro.training.run_folder import RunFolder, RunFolderLocked
from tests.training._subprocess_checks import MODEL, RECIPE, _tiny_data

HOLD_LOCK = """
import sys, time
from cifar100_kedro.training.run_folder import RunFolder
with RunFolder(sys.argv[1], "x"):
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
    with RunFolder(folder, "x"):
        pass


def test_a_changed_recipe_does_not_resume_the_old_state(tmp_path):
    folder = RunFolder(tmp_path / "arch", "first")
    folder.open(resumable=True)
    (folder.backup_dir).mkdir()
    (folder.backup_dir / "state").write_text("epoch 3 of the first recipe")
    assert RunFolder(tmp_path / "arch", "first").open(resumable=True) is True
    assert RunFolder(tmp_path / "arch", "second").open(resumable=True) is False
    assert not (tmp_path / "arch" / "backup").exists()
