"""Real ``kedro run`` processes for the fault-injection tests: run one, or SIGKILL its whole
process group at a log line.

The child gets a wide console (``COLUMNS=400``): rich would otherwise wrap the log lines the
tests look for. ``start_new_session=True`` makes it a process group of its own, so the kill
reaches every process it started, as ``kill -9`` of a terminal's job would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

# ``python -m kedro`` is what the ``kedro`` command runs.
KEDRO = (sys.executable, "-m", "kedro")


def run_kedro(
    project: Path,
    command: Sequence[str],
    kill_when: Callable[[str], bool] | None = None,
    timeout: float = 300,
) -> str:
    """Run ``command`` in ``project``; return its output (stdout and stderr).

    Without ``kill_when`` the command must succeed. With it, the process group is SIGKILLed at
    the first line for which ``kill_when(line)`` is true, and must have died of that signal (a
    run that ends before the line fails the test). A watchdog kills it after ``timeout`` s.
    """
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "COLUMNS": "400",
    }
    process = subprocess.Popen(
        list(command), cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    timed_out = threading.Event()

    def watchdog() -> None:
        timed_out.set()
        os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, watchdog)
    timer.start()
    lines, killed = [], False
    try:
        for line in process.stdout:
            lines.append(line)
            if kill_when is not None and kill_when(line):
                os.killpg(process.pid, signal.SIGKILL)
                killed = True
                break
        process.wait(timeout=60)
    finally:
        timer.cancel()
        process.stdout.close()
    output = "".join(lines)
    assert not timed_out.is_set(), f"no end after {timeout} s:\n{output[-4000:]}"
    if kill_when is None:
        assert process.returncode == 0, output[-4000:]
    else:
        assert killed, f"the run ended before the kill line:\n{output[-4000:]}"
        assert process.returncode == -signal.SIGKILL, output[-4000:]
    return output
