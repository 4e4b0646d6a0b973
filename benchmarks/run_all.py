"""Run every benchmark of the project and print (and optionally write) their tables.

Each benchmark runs in its own Python process (a fresh TensorFlow, no memory carried over),
one after the other; its tables are collected from its standard output, its progress goes
to standard error. A benchmark script that is missing gets a "not available" row, one that
fails a "failed" row: the others still run.

    python benchmarks/run_all.py                  # full sizes (hours on a 2-core CPU)
    python benchmarks/run_all.py --quick          # small sizes (see docs/benchmarks.md)
    python benchmarks/run_all.py --quick --output docs/benchmark_results.md
    python benchmarks/run_all.py --quick --update-readme docs/benchmarks.md   # rewrite its results
    python benchmarks/run_all.py --only flops,training_throughput
        --architectures resnet9_fast,chavez_m1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import format_table, hardware_line

# (name, title, script). Scripts by others are called the same way and may be absent.
BENCHMARKS = (
    (
        "data_pipeline",
        "Data pipeline: archive → arrays (vs keras.datasets-style loading)",
        "data_pipeline.py",
    ),
    (
        "training_throughput",
        "Training images/s per architecture (engine vs ImageDataGenerator)",
        "training_throughput.py",
    ),
    (
        "evaluation_throughput",
        "Evaluation images/s per architecture (and flip TTA)",
        "evaluation_throughput.py",
    ),
    (
        "fish_subset_vs_paper",
        "fish_subset pipeline vs the paper-style script",
        "fish_subset_vs_paper.py",
    ),
    (
        "budget_curves",
        "Test accuracy per wall-time budget, through the engine (synthetic unless --archive)",
        "budget_curves.py",
    ),
    (
        "ingredients",
        "resnet9_fast's fast-training ingredients one at a time, fixed epochs",
        "ingredients.py",
    ),
    (
        "predict_teardown",
        "Stalls after model.predict on NumPy (autotuner on) vs predict_arrays (off)",
        "predict_teardown.py",
    ),
    ("flops", "FLOPs per image and parameters", "flops.py"),
    ("resume_soak", "Resume soak: random SIGKILLs of a training run", "resume_soak.py"),
)
# Scripts that take ``--architectures`` (forwarded when given).
TAKES_ARCHITECTURES = {"training_throughput", "evaluation_throughput", "budget_curves", "flops"}
# The results block ``--update-readme`` rewrites (everything between the two markers): it
# lives in docs/benchmarks.md, under its "Results" section.
RESULTS_PAGE = "docs/benchmarks.md"
README_START = "<!-- BENCHMARK-RESULTS:START -->"
README_END = "<!-- BENCHMARK-RESULTS:END -->"
# Small-size arguments for a script without its own ``--quick`` option (its documented smoke run).
QUICK_FALLBACK = {
    "ingredients": ["--epochs", "2", "--width", "8", "--train-per-class", "10"],
    "predict_teardown": ["--images", "300", "--trials", "1"],
    "budget_curves": ["--budgets", "0.5,1", "--train-per-class", "20", "--test-per-class", "5"],
    "fish_subset_vs_paper": [
        "--train-per-class",
        "10",
        "--test-per-class",
        "2",
        "--image-size",
        "32",
        "--epochs",
        "2",
    ],
}


# Kedro's rich console logging writes to standard output; in a child benchmark it would bury
# the tables. Kedro reads its logging configuration from KEDRO_LOGGING_CONFIG.
KEDRO_LOGGING_TO_STDERR = """\
version: 1
disable_existing_loggers: false
handlers:
  stderr: {class: logging.StreamHandler, stream: "ext://sys.stderr", level: INFO}
root: {handlers: [stderr], level: WARNING}
loggers:
  kedro: {level: WARNING}
"""


def child_environment(workdir: Path) -> dict[str, str]:
    """The benchmarks' environment: telemetry off, Kedro logging on standard error."""
    config = workdir / "kedro_logging.yml"
    config.write_text(KEDRO_LOGGING_TO_STDERR, encoding="utf-8")
    env = dict(os.environ)
    env.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KEDRO_LOGGING_CONFIG", str(config))
    return env


def supports_quick(script: Path) -> bool:
    """Whether ``script`` documents a ``--quick`` option (read from its source, not run)."""
    return '"--quick"' in script.read_text(encoding="utf-8")


def run_one(
    name: str,
    script: Path,
    quick: bool,
    architectures: str | None,
    timeout: float | None,
    env: dict[str, str] | None = None,
) -> dict:
    """Run one benchmark script; return its status, seconds and captured tables."""
    if not script.exists():
        return {
            "name": name,
            "status": "not available",
            "seconds": 0.0,
            "output": f"(`{script.name}` is not in benchmarks/)",
        }
    args = [sys.executable, str(script)]
    if quick:
        args += ["--quick"] if supports_quick(script) else QUICK_FALLBACK.get(name, [])
    if architectures and name in TAKES_ARCHITECTURES:
        args += ["--architectures", architectures]
    print(
        f"\n>>> {' '.join(Path(a).name if a.endswith('.py') else a for a in args[1:])}",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    try:
        done = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            cwd=HERE.parent,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {
            "name": name,
            "status": f"timed out after {timeout:.0f} s",
            "seconds": time.perf_counter() - started,
            "output": output,
        }
    status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
    return {
        "name": name,
        "status": status,
        "seconds": time.perf_counter() - started,
        "output": done.stdout.strip(),
    }


def as_markdown(output: str) -> str:
    """A benchmark's output for the report: without its leading ``## title`` line (the report
    gives each one), and fenced as text when it has no Markdown table (plain columns)."""
    lines = output.strip().splitlines()
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    if text and not any(line.startswith("|") for line in lines):
        text = f"```text\n{text}\n```"
    return text


def report(results: list[dict], quick: bool) -> str:
    """The combined Markdown report: hardware, summary table, then every benchmark's tables."""
    titles = {name: title for name, title, _ in BENCHMARKS}
    summary = format_table(
        ["benchmark", "status", "wall seconds"],
        [[titles[r["name"]], r["status"], r["seconds"]] for r in results],
    )
    parts = [
        "# Benchmark results",
        "",
        f"Generated by `python benchmarks/run_all.py{' --quick' if quick else ''}`.",
        "",
        hardware_line(),
        "",
        summary,
    ]
    for result in results:
        parts += [
            "",
            f"## {titles[result['name']]}",
            "",
            as_markdown(result["output"]) or "(no output)",
        ]
    return "\n".join(parts) + "\n"


def update_between_markers(path: Path, text: str) -> None:
    """Replace what lies between README_START and README_END in ``path`` with ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    # Markers count only on lines of their own (a mention inside a sentence does not).
    starts = [i for i, line in enumerate(lines) if line.strip() == README_START]
    ends = [i for i, line in enumerate(lines) if line.strip() == README_END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise SystemExit(
            f"{path}: needs exactly one line {README_START} followed by one line {README_END}"
        )
    # Demote the report's headings by two levels to sit under the page's own "Results" section.
    body = ["##" + line if line.startswith("#") else line for line in text.strip().splitlines()]
    updated = "\n".join(lines[: starts[0] + 1] + body + lines[ends[0] :]) + "\n"
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(updated, encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes in every benchmark")
    parser.add_argument(
        "--only", help=f"comma-separated subset of: {', '.join(n for n, _, _ in BENCHMARKS)}"
    )
    parser.add_argument("--skip", help="comma-separated benchmarks to leave out")
    parser.add_argument(
        "--architectures", help="comma-separated namespaces for the per-architecture benchmarks"
    )
    parser.add_argument(
        "--timeout", type=float, help="seconds allowed per benchmark (default: none)"
    )
    parser.add_argument("--output", type=Path, help="also write the report to this Markdown file")
    parser.add_argument(
        "--update-readme",
        type=Path,
        metavar="FILE",
        help=f"replace the text between {README_START} and {README_END} in this file "
        f"(the results block lives in {RESULTS_PAGE})",
    )
    args = parser.parse_args(argv)
    known = [name for name, _, _ in BENCHMARKS]
    only = args.only.split(",") if args.only else known
    skip = set(args.skip.split(",")) if args.skip else set()
    unknown = sorted((set(only) | skip) - set(known))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(known)}")
    if args.update_readme:  # fail before hours of benchmarks, not after
        if not args.update_readme.exists():
            parser.error(f"--update-readme: {args.update_readme} does not exist")
        lines = [
            line.strip() for line in args.update_readme.read_text(encoding="utf-8").splitlines()
        ]
        if lines.count(README_START) != 1 or lines.count(README_END) != 1:
            parser.error(
                f"--update-readme: {args.update_readme} needs one line {README_START} "
                f"and one line {README_END}"
            )
    with tempfile.TemporaryDirectory(prefix="benchmarks_") as workdir:
        env = child_environment(Path(workdir))
        results = [
            run_one(name, HERE / script, args.quick, args.architectures, args.timeout, env)
            for name, _, script in BENCHMARKS
            if name in only and name not in skip
        ]
    text = report(results, args.quick)
    print(text)
    if args.update_readme:
        update_between_markers(args.update_readme, text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        temporary = args.output.with_suffix(args.output.suffix + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(args.output)
    return 0 if all(r["status"] in ("ok", "not available") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
