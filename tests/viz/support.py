"""Helpers for the kedro-viz and notebook tests: project copies, ``kedro`` commands, a live server.

``conftest.run_project`` copies the project (conf, pyproject, notebooks) to a temporary folder
and runs it with the CLI users type, in the ``test`` environment (tiny synthetic data, 1 epoch):

    kedro run --env=test --pipelines=data_processing
    kedro run --env=test --namespaces=<VIZ_NAMESPACE>

That is the data, one architecture's training and its reports: every kind of output
(tables, metrics JSON, plots, a Keras model) at a fraction of a full run's time and disk (the
whole test-environment run trains every architecture and writes gigabytes of models).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The architecture trained for these tests: the smallest paper model.
VIZ_NAMESPACE = "chavez_m1"
# Pipelines the foundation promises; the others (fish_subset, model selection) are checked
# whenever register_pipelines() returns them.
CORE_PIPELINES = ("__default__", "data_processing", "training", "reporting")
RUN_TIMEOUT_S = 900


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test process's environment for a child ``kedro`` command, telemetry off."""
    env = {k: v for k, v in os.environ.items() if k != "KEDRO_ENV"}
    env.update(KEDRO_DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def kedro(project: Path, *args: str, timeout: float = RUN_TIMEOUT_S, **env: str) -> str:
    """Run ``python -m kedro <args>`` in ``project``; fail the test with its output's tail."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        check=False,
        cwd=project,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"`kedro {' '.join(args)}` failed ({result.returncode}):\n{output[-6000:]}")
    return output


def copy_project(target: Path) -> Path:
    """A runnable copy of the project: conf (without conf/local), pyproject, notebooks."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        PROJECT_ROOT / "conf",
        target / "conf",
        ignore=shutil.ignore_patterns("local"),
        dirs_exist_ok=True,
    )
    (target / "conf" / "local").mkdir(exist_ok=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    if (PROJECT_ROOT / ".telemetry").exists():
        shutil.copy(PROJECT_ROOT / ".telemetry", target / ".telemetry")
    shutil.copytree(PROJECT_ROOT / "notebooks", target / "notebooks", dirs_exist_ok=True)
    # Kedro wants the source folder to exist; the package itself is the installed one.
    (target / "src").mkdir(exist_ok=True)
    return target


def viz_namespace() -> str:
    from cifar100_kedro.architectures import default_training

    ARCHITECTURES = [a.namespace for a in default_training()]

    return VIZ_NAMESPACE if VIZ_NAMESPACE in ARCHITECTURES else ARCHITECTURES[0]


# ----------------------------------------------------------------------------- live server
def free_port() -> int:
    """A free TCP port on 127.0.0.1 in the range kedro-viz accepts (at most 49151)."""
    for port in random.sample(range(20000, 49000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port between 20000 and 49000")


def get_json(url: str, timeout: float = 10) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class VizServer:
    """``kedro viz run`` on 127.0.0.1 in its own process group (it spawns a server child)."""

    def __init__(self, project: Path, log_path: Path, env: str = "test") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kedro",
                "viz",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-browser",
            ],
            cwd=project,
            env=subprocess_env(KEDRO_ENV=env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_ready(self, timeout: float = 300) -> float:
        """Poll ``/api/main`` until it answers 200; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"kedro viz exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/main", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        pytest.fail(
            f"kedro viz did not answer on {self.url}/api/main in {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30) -> bool:
        """SIGTERM to the whole process group; True if it ended without SIGKILL."""
        import signal

        clean = True
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                clean = False
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        # The spawned server child shares the group: make sure none of it survives.
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            pass
        else:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
            else:
                clean = False
                os.killpg(self.process.pid, signal.SIGKILL)
        if not self._log.closed:
            self._log.close()
        return clean
