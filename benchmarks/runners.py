"""Runners compared: the same ``kedro run`` training N architectures with Kedro's
``SequentialRunner``, Kedro's ``ParallelRunner`` and the project's ``DaskRunner``
(LocalCluster), each in its own copy of the project, one after the other in one run.

For each runner: wall time, CPU time of the whole process tree (user + system, from
``getrusage(RUSAGE_CHILDREN)``: every worker process is waited for), the peak of the tree's
summed resident memory (sampled every 0.25 s with psutil) and the largest single process,
and the ratios to the sequential runner measured in the same run. Data processing runs once
beforehand (not timed); each timed run starts from the same model-input arrays.

    python benchmarks/runners.py                                   # demo env, 3 architectures
    python benchmarks/runners.py --architectures chavez_m1,chavez_m2 --env test
    python benchmarks/runners.py --dask-params n_workers=2,tf_threads=1

It prints a Markdown table (stdout; progress on stderr) and exits 1 if a run fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROJECT_ROOT, format_table, hardware_line, log

DEFAULT_ARCHITECTURES = "chavez_m1,chavez_m2,rana_elu_cnn"  # x 3 seeds in the demo env
RUNNERS = {
    "sequential": [],
    "ParallelRunner": ["--runner=ParallelRunner"],
    "DaskRunner": ["--runner=cifar100_kedro.runners.DaskRunner"],
}


def _project(target: Path) -> Path:
    """A copy of the project's conf and metadata (data/ empty), as the tests make."""
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "data").mkdir()
    (target / "src").mkdir()
    return target


def _kedro(project: Path, arguments: list[str]) -> subprocess.Popen:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "kedro", "run", *arguments], cwd=project, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _tree_rss(process: psutil.Process) -> tuple[int, int]:
    """(summed, largest) resident memory of a process and its descendants, in bytes."""
    sizes = []
    for member in [process, *process.children(recursive=True)]:
        try:
            sizes.append(member.memory_info().rss)
        except psutil.Error:
            pass
    return sum(sizes), max(sizes, default=0)


def measure(project: Path, arguments: list[str], timeout: float) -> dict[str, float]:
    """Run ``kedro run arguments`` in ``project``; wall, CPU and memory of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = _kedro(project, arguments)
    peaks = {"sum": 0, "largest": 0}
    done = threading.Event()

    def sample() -> None:
        watched = psutil.Process(process.pid)
        while not done.is_set():
            try:
                total, largest = _tree_rss(watched)
            except psutil.Error:
                break
            peaks["sum"] = max(peaks["sum"], total)
            peaks["largest"] = max(peaks["largest"], largest)
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise RuntimeError(f"kedro run {' '.join(arguments)} ran past {timeout:.0f} s") from None
    finally:
        done.set()
        sampler.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"kedro run {' '.join(arguments)} failed:\n{output[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rss_sum": peaks["sum"], "rss_max": peaks["largest"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="demo")
    parser.add_argument("--architectures", default=DEFAULT_ARCHITECTURES)
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--dask-params", default="n_workers=2,dashboard_address=:0")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the project copies here")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="runners-benchmark-"))
    base = _project(workdir / "base")
    log(f"data processing once in {base}")
    measure(base, [f"--env={args.env}", "--pipelines=data_processing"], args.timeout)
    command = [
        f"--env={args.env}", "--pipelines=training", f"--namespaces={args.architectures}",
    ]  # fmt: skip
    results = {}
    for name in args.runners.split(","):
        project = workdir / name
        shutil.copytree(base, project)
        extra = list(RUNNERS[name])
        if name == "DaskRunner" and args.dask_params:
            extra.append(f"--runner-params={args.dask_params}")
        log(f"{name}: kedro run {' '.join(command + extra)}")
        results[name] = measure(project, command + extra, args.timeout)
        log(f"{name}: {results[name]['wall']:.1f} s wall")
    reference = results.get("sequential") or next(iter(results.values()))
    rows = [
        [
            name, f"{r['wall']:.1f}", f"{r['wall'] / reference['wall']:.2f}",
            f"{r['cpu']:.1f}", f"{r['cpu'] / reference['cpu']:.2f}",
            f"{r['rss_sum'] / 2**20:,.0f}", f"{r['rss_sum'] / reference['rss_sum']:.2f}",
            f"{r['rss_max'] / 2**20:,.0f}",
        ]
        for name, r in results.items()
    ]  # fmt: skip
    print(f"{hardware_line()}\n")
    print(
        f"`kedro run {' '.join(command)}` ({len(args.architectures.split(','))} architectures; "
        f"Dask: `--runner-params={args.dask_params}`)\n"
    )
    print(format_table(
        ["runner", "wall s", "× seq", "CPU s", "× seq", "peak RSS MiB (tree)", "× seq",
         "largest process MiB"],
        rows,
    ))  # fmt: skip
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
