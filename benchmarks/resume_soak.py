"""Resume soak: one ``kedro run`` training SIGKILLed N times at random moments, then finished.

Not a timed test: a longer run of the fault injection that tests/training/test_resume_*.py
do at fixed points. In one project copy the training runs uninterrupted; in another the
same command runs again and again, each attempt SIGKILLed (its whole process group) at a
moment drawn uniformly over the attempt's expected duration (seeded), until N kills have
happened; then it runs to the end. It counts:

- the epochs of the run (the uninterrupted history's rows);
- epochs trained across all attempts: each attempt's finished epochs (its log lines, plus
  one whose state was committed just before the kill, before its log line), and each epoch
  a kill interrupted;
- epochs lost = trained − the run's: **killed mid-epoch** (the epoch in progress, or its
  backup write, was cut: that work is redone) and **redone although saved** (an epoch whose
  state had been saved and was trained again: the target is 0);
- whether the final history and weights are identical to the uninterrupted run's
  (``device.deterministic: true``).

The soak ends when an attempt finishes, or when a kill lands after the outputs were saved
(the engine then has removed the finished state: nothing is left to resume). The notes column
names any state the engine did not resume from (stale: the recipe, data or the project's
source changed mid-soak; unreadable). Each attempt's log is kept with ``--workdir``.

It prints Markdown tables (stdout; progress on stderr) and exits 1 unless the run ends
identical with no saved epoch redone.

    python benchmarks/resume_soak.py              # resnet9_fast, test env, 20 epochs, 5 kills
    python benchmarks/resume_soak.py --namespace chavez_m5 --epochs 40 --kills 10 --seed 3
    python benchmarks/resume_soak.py --env demo --epochs 8 --kills 5    # ~5 s epochs, 2 cores
    python benchmarks/resume_soak.py --quick      # 3 kills of a 12-epoch run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import PROJECT_ROOT, format_table, hardware_line, log

# Plain log lines on stdout (no rich console: nothing wrapped), INFO from Kedro and the project.
LOGGING = """\
version: 1
disable_existing_loggers: false
formatters:
  plain: {format: "%(asctime)s %(levelname)s %(name)s: %(message)s"}
handlers:
  stdout: {class: logging.StreamHandler, stream: "ext://sys.stdout", formatter: plain}
root: {handlers: [stdout], level: WARNING}
loggers:
  kedro: {level: INFO}
  cifar100_kedro: {level: INFO}
"""


# ----------------------------------------------------------------------------- processes
@dataclass
class Attempt:
    """One ``kedro run``: its timed output lines and how it ended."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0
    kill_at: float | None = None
    killed: bool = False
    returncode: int | None = None
    saved_before: int = 0
    saved_after: int = 0

    def text(self) -> str:
        return "".join(line for _, line in self.lines)


def copy_project(target: Path) -> Path:
    """A runnable project copy: conf, pyproject, an empty data/ (the package is installed)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf", dirs_exist_ok=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "data").mkdir(exist_ok=True)
    (target / "src").mkdir(exist_ok=True)
    return target


def child_environment(workdir: Path) -> dict[str, str]:
    config = workdir / "logging.yml"
    config.write_text(LOGGING, encoding="utf-8")
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KEDRO_LOGGING_CONFIG": str(config),
    }


def run(
    project: Path, command: list[str], env: dict[str, str], kill_at: float | None, limit: float
) -> Attempt:
    """Run ``command``; SIGKILL its process group ``kill_at`` seconds after the start."""
    attempt = Attempt(kill_at=kill_at)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip

    def read() -> None:
        for line in process.stdout:
            attempt.lines.append((time.monotonic() - started, line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=kill_at if kill_at is not None else limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        attempt.killed = kill_at is not None
        process.wait()
    reader.join(timeout=30)
    attempt.seconds = time.monotonic() - started
    attempt.returncode = process.returncode
    if not attempt.killed and attempt.returncode != 0:
        raise SystemExit(
            f"`{' '.join(command[2:])}` failed (exit {attempt.returncode}):\n"
            + attempt.text()[-4000:]
        )
    return attempt


# ----------------------------------------------------------------------------- state on disk
def saved_epochs(project: Path, namespace: str, epochs: int) -> int:
    """Epochs whose state is saved: the latest complete backup state's, or all of them once
    the outputs are saved (the finished state is then removed)."""
    backup = project / "data/06_models/_training_state" / namespace / "backup"
    states = sorted(
        (int(p.name.split("-")[1]), p)
        for p in (backup.iterdir() if backup.is_dir() else ())
        if p.name.startswith("state-") and p.name.split("-")[1].isdigit()
    )
    if states:
        return int(json.loads((states[-1][1] / "state.json").read_text())["epoch"])
    return epochs if outputs_saved(project, namespace) else 0


def outputs_saved(project: Path, namespace: str) -> bool:
    """The training summary (saved last, then the state removed) is there: the run is done."""
    backup = project / "data/06_models/_training_state" / namespace / "backup"
    summary = project / "data/07_model_output" / namespace / "training_summary.json"
    return summary.exists() and not backup.exists()


# ----------------------------------------------------------------------------- log lines
def epoch_lines(attempt: Attempt, namespace: str) -> list[tuple[float, int]]:
    pattern = re.compile(rf"{re.escape(namespace)}: epoch (\d+)/\d+\b")
    return [(t, int(m.group(1))) for t, line in attempt.lines if (m := pattern.search(line))]


def first_time(attempt: Attempt, text: str) -> float | None:
    return next((t for t, line in attempt.lines if text in line), None)


# The engine's log lines when it does not resume from a saved state (each names the reason).
NOT_RESUMED = {
    "discarding the stale training state": "stale state discarded",
    "cannot be used": "unreadable state",
    "training from the start": "trained from the start",
}


def notes(attempt: Attempt) -> str:
    """Why an attempt did not resume, from the engine's lines (a source or recipe changed
    mid-soak makes every saved state stale: its epochs are then redone although saved)."""
    found = [note for text, note in NOT_RESUMED.items() if text in attempt.text()]
    return ", ".join(found) or ""


def source_version() -> str:
    """The project's commit (and whether its source has uncommitted changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "conf"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' (src or conf modified)' if dirty else ''}"


def phase(attempt: Attempt, namespace: str) -> str:
    """Where the kill landed, from the last lines before it."""
    if not attempt.killed:
        return "finished"
    if first_time(attempt, f"Completed node: {namespace}.train") is not None:
        return "after the training node"
    if first_time(attempt, f"Saving data to {namespace}.") is not None:
        return "saving the outputs"
    if first_time(attempt, f"{namespace}: training ") is not None:
        return "training"
    return "start-up"


def resumed_after(attempt: Attempt, namespace: str) -> int | None:
    for _, line in attempt.lines:
        if f"{namespace}: training " in line:
            found = re.search(r"\(resuming after epoch (\d+)\)", line)
            return int(found.group(1)) if found else 0
    return None


# ----------------------------------------------------------------------------- outputs
def outputs(project: Path, namespace: str):
    import keras
    import pandas as pd

    import cifar100_kedro.training.layers
    import cifar100_kedro.training.schedules  # noqa: F401  (the saved model's custom objects)

    history = pd.read_csv(project / "data/07_model_output" / namespace / "history.csv")
    model = keras.models.load_model(project / "data/06_models" / namespace / "model.keras")
    return history.drop(columns=["seconds", "cpu_seconds"]), model.get_weights()


def identical(ours, theirs) -> tuple[bool, bool]:
    import numpy as np

    (history, weights), (expected_history, expected_weights) = ours, theirs
    same_history = history.shape == expected_history.shape and bool(
        (history.columns == expected_history.columns).all() and history.equals(expected_history)
    )
    same_weights = len(weights) == len(expected_weights) and all(
        a.shape == b.shape and np.array_equal(a, b)
        for a, b in zip(weights, expected_weights, strict=True)
    )
    return same_history, same_weights


# ----------------------------------------------------------------------------- the soak
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="resnet9_fast", help="the architecture trained")
    parser.add_argument("--epochs", type=int, default=20, help="training_run.max_epochs")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs before the last attempt")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--env", default="test", help="Kedro environment (test: 400 images)")
    parser.add_argument(
        "--params", default="", help="more `kedro run --params` (e.g. resnet9_fast.model.width=32)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the project copies and each attempt's log here"
    )
    parser.add_argument("--quick", action="store_true", help="3 kills of a 12-epoch run")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.kills = 12, 3
    ns = args.namespace
    params = f"training_run.max_epochs={args.epochs},device.deterministic=true"
    params += f",{args.params}" if args.params else ""
    kedro = [sys.executable, "-m", "kedro", "run", f"--env={args.env}"]
    command = [*kedro, "--pipelines=training", f"--namespaces={ns}", f"--params={params}"]

    version = source_version()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="resume_soak_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        env = child_environment(workdir)
        reference, killed = workdir / "uninterrupted", workdir / "killed"
        for folder in (reference, killed):
            shutil.rmtree(folder, ignore_errors=True)
        copy_project(reference)
        log(f"data_processing ({args.env}) in {reference}")
        run(reference, [*kedro, "--pipelines=data_processing"], env, None, 600)
        shutil.copytree(reference, killed)

        log(f"uninterrupted: {' '.join(command[2:])}")
        base = run(reference, command, env, None, 3600)
        (workdir / "uninterrupted.log").write_text(base.text(), encoding="utf-8")
        epochs = len(outputs(reference, ns)[0])
        ticks = epoch_lines(base, ns)
        start = first_time(base, f"{ns}: training ")
        if start is None or not ticks:
            raise SystemExit(f"no training lines for {ns}:\n{base.text()[-4000:]}")
        epoch_s = (ticks[-1][0] - start) / len(ticks)
        tail_s = base.seconds - ticks[-1][0]
        log(f"  {base.seconds:.1f} s: start-up {start:.1f} s, {epochs} epochs of {epoch_s:.2f} s")

        rng = random.Random(args.seed)
        attempts: list[Attempt] = []
        while True:
            saved = saved_epochs(killed, ns, epochs)
            kill_at = None
            if sum(a.killed for a in attempts) < args.kills:
                expected = start + (epochs - saved) * epoch_s + tail_s
                kill_at = rng.uniform(0, expected)
            attempt = run(killed, command, env, kill_at, max(600.0, 20 * base.seconds))
            attempt.saved_before = saved
            attempt.saved_after = saved_epochs(killed, ns, epochs)
            attempts.append(attempt)
            (workdir / f"attempt_{len(attempts)}.log").write_text(attempt.text(), encoding="utf-8")
            log(
                f"  attempt {len(attempts)}: "
                + (f"killed at {kill_at:.1f} s ({phase(attempt, ns)})" if attempt.killed
                   else f"finished in {attempt.seconds:.1f} s")
                + f", saved epochs {attempt.saved_before} → {attempt.saved_after}"
            )  # fmt: skip
            if not attempt.killed or outputs_saved(killed, ns):
                break  # finished (a kill after the outputs were saved leaves nothing to resume)

        same_history, same_weights = identical(outputs(killed, ns), outputs(reference, ns))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    rows, completed_total, interrupted_total = [], 0, 0
    for number, attempt in enumerate(attempts, 1):
        logged = [epoch for _, epoch in epoch_lines(attempt, ns)]
        reached = max([attempt.saved_before, *logged])
        silent = max(0, attempt.saved_after - reached) if attempt.killed else 0
        completed = len(logged) + silent
        interrupted = int(
            phase(attempt, ns) == "training"
            and attempt.saved_after < epochs
            and attempt.saved_after == reached
        )
        redone = sum(epoch <= attempt.saved_before for epoch in logged)
        completed_total += completed
        interrupted_total += interrupted
        resumed = resumed_after(attempt, ns)
        rows.append([
            number,
            f"{attempt.kill_at:.1f}" if attempt.killed else f"finished ({attempt.seconds:.1f})",
            phase(attempt, ns),
            "n/a" if resumed is None else resumed,
            completed,
            interrupted,
            redone,
            notes(attempt),
        ])  # fmt: skip
    kills = sum(a.killed for a in attempts)
    trained = completed_total + interrupted_total
    redone_saved = completed_total - epochs
    ok = same_history and same_weights and redone_saved == 0

    print(
        f"## Resume soak: `{ns}`, {args.env} env, {epochs} epochs, {kills} kills, seed {args.seed}"
    )
    print()
    print(f"{hardware_line()} | source {version}")
    print()
    given = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"`python benchmarks/resume_soak.py{' ' + given if given else ''}`")
    print()
    print(
        f"Uninterrupted: {base.seconds:.1f} s (start-up {start:.1f} s, {epoch_s:.2f} s per "
        f"epoch). Each kill at a moment uniform over the attempt's expected duration."
    )
    print()
    print(
        format_table(
            ["attempt", "killed at (s)", "where", "resumed after epoch", "epochs finished",
             "epoch interrupted", "saved epochs redone", "notes"],
            rows,
        )
    )  # fmt: skip
    print()
    print(
        format_table(
            ["epochs of the run", "kills", "epochs trained (all attempts)", "epochs lost",
             "killed mid-epoch", "redone although saved", "history identical",
             "weights identical"],
            [[epochs, kills, trained, trained - epochs, interrupted_total, redone_saved,
              "yes" if same_history else "NO", "yes" if same_weights else "NO"]],
        )
    )  # fmt: skip
    if attempts[-1].killed:
        print(
            "\nThe last kill came after the outputs were saved (the finished state removed): "
            "the run had ended, and the same command would train it again from the start."
        )
    if kills < args.kills:
        print(f"\n{args.kills - kills} planned kill(s) did not happen: the run ended first.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
