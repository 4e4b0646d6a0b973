"""Benchmark: archive → split arrays, against what ``keras.datasets.cifar100.load_data`` does.

Both run in fresh subprocesses on the same full-size (60,000-image) archive, so wall time and
peak RSS (``ru_maxrss`` of the child) are measured alike:

- reference: ``pickle.load`` of ``train`` and ``test`` from the tar.gz, reshape to
  N×3×32×32, transpose to channels-last (exactly keras' ``load_data``; no validation,
  no split, nothing written);
- project: ``kedro run --pipeline=data_processing`` on the same archive (restricted
  unpickling, validation, channel-last copy, stratified split, statistics, ``.npz`` writes).

Target: project ≤ 1.5× the reference's wall time and ≤ 2× its peak RSS.

    python benchmarks/data_pipeline.py [--archive PATH] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REFERENCE = textwrap.dedent(
    """
    import pickle, resource, sys, tarfile, time, json
    import numpy as np
    started = time.perf_counter()
    arrays = {}
    with tarfile.open(sys.argv[1], "r:gz") as tar:
        for split in ("train", "test"):
            with tar.extractfile(f"cifar-100-python/{split}") as handle:
                batch = pickle.load(handle, encoding="bytes")
            data = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            arrays[split] = (data, np.array(batch[b"fine_labels"]))
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "images": sum(len(v[1]) for v in arrays.values()),
                      "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_rss_mb": usage.ru_maxrss / 1024}))
    """
)

PROJECT = textwrap.dedent(
    """
    import json, os, resource, sys, time
    from pathlib import Path
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    project = Path(sys.argv[1])
    bootstrap_project(project)
    os.chdir(project)
    started = time.perf_counter()
    with KedroSession.create(project_path=project, env="bench") as session:
        run_started = time.perf_counter()
        session.run(pipeline_names=["data_processing"])
        run_seconds = time.perf_counter() - run_started
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "run_seconds": run_seconds,
                      "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_rss_mb": usage.ru_maxrss / 1024}))
    """
)


def _run(code: str, arg: str) -> dict:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "KEDRO_LOGGING_CONFIG": ""}
    env.pop("KEDRO_LOGGING_CONFIG")
    out = subprocess.run(
        [sys.executable, "-c", code, arg], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _bench_project(archive: Path, workdir: Path) -> Path:
    """A copy of the project whose ``bench`` environment reads ``archive`` as a local source."""
    project = workdir / "project"
    shutil.copytree(ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    shutil.copy(ROOT / "pyproject.toml", project)
    (project / "src").mkdir()
    (project / "conf" / "bench").mkdir()
    (project / "conf" / "bench" / "catalog.yml").write_text(
        "cifar100_archive:\n"
        "  type: cifar100_kedro.datasets.CIFAR100ArchiveDataset\n"
        f"  filepath: {archive}\n"
        "  source: local\n"
    )
    return project


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--archive",
        type=Path,
        help="a CIFAR-100 python archive (default: generate a full-size synthetic one)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        archive = args.archive
        if archive is None:
            from cifar100_kedro.data.synthetic import write_synthetic_archive

            started = time.perf_counter()
            archive = write_synthetic_archive(workdir / "cifar-100-python.tar.gz", 500, 100)
            print(f"generated full-size synthetic archive in {time.perf_counter() - started:.1f}s")
        project = _bench_project(archive.resolve(), workdir)
        reference, ours = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine load
            reference.append(_run(REFERENCE, str(archive)))
            ours.append(_run(PROJECT, str(project)))

    def best(runs: list[dict], key: str) -> float:
        return min(r[key] for r in runs)

    result = {
        "images": reference[0]["images"],
        "reference_seconds": best(reference, "seconds"),
        "project_seconds": best(ours, "seconds"),
        "reference_peak_rss_mb": best(reference, "peak_rss_mb"),
        "project_peak_rss_mb": best(ours, "peak_rss_mb"),
    }
    result["reference_cpu_seconds"] = best(reference, "cpu_seconds")
    result["project_cpu_seconds"] = best(ours, "cpu_seconds")
    result["project_run_seconds"] = best(ours, "run_seconds")
    result["time_ratio"] = result["project_seconds"] / result["reference_seconds"]
    result["run_time_ratio"] = result["project_run_seconds"] / result["reference_seconds"]
    result["cpu_ratio"] = result["project_cpu_seconds"] / result["reference_cpu_seconds"]
    result["rss_ratio"] = result["project_peak_rss_mb"] / result["reference_peak_rss_mb"]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"archive: {archive} ({result['images']} images), best of {repeats}")
    print(f"{'':34}{'wall s':>10}{'CPU s':>10}{'peak RSS MB':>14}")
    for label, key in (
        ("reference (keras load_data)", "reference"),
        ("project (data_processing)", "project"),
    ):
        print(
            f"{label:34}{result[key + '_seconds']:10.2f}"
            f"{result[key + '_cpu_seconds']:10.2f}"
            f"{result[key + '_peak_rss_mb']:14.0f}"
        )
    print(
        f"{'ratio (target ≤1.5 time, ≤2 RSS)':34}{result['time_ratio']:10.2f}"
        f"{result['cpu_ratio']:10.2f}{result['rss_ratio']:14.2f}"
    )
    print(
        f"{'project, pipeline run only':34}{result['project_run_seconds']:10.2f}"
        f"   → {result['run_time_ratio']:.2f}× the reference (without starting the KedroSession)"
    )
    print("(the project's first row includes starting a KedroSession: config, catalog, hooks)")
    return result


if __name__ == "__main__":
    main()
