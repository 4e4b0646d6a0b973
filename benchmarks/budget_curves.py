"""Test accuracy per training budget (wall minutes), every architecture, through the engine.

The benchmark for the question "which model should I pick for N
minutes?": each architecture trains with its conf recipe and ``time_budget_minutes = N``
through ``training.engine.fit_model`` — exactly what ``kedro run --params
"<ns>.train.time_budget_minutes=N"`` does (the timed warm-up, a ``budget_plan`` choosing the
network and batch where the recipe has one, a partial epoch when N buys less than one) — and is
scored on the test split (flip TTA where the recipe says ``tta: true``). Budgets run in the
outer loop and architectures in the inner one, so a slow spell of a shared machine hits
every architecture of a budget alike.

Data: the synthetic source (``--train-per-class``, ``--test-per-class``), or any CIFAR-100
format archive (``--archive PATH``: its train set is split 80/20 into train/validation as
``data_processing`` does, its test set is the test split; ``--max-train`` subsamples the
training part, stratified, for quick looks).

Per (budget, architecture) it prints: test accuracy, the wall seconds of the whole call (with
the warm-up) and of training alone, process CPU seconds of training, epochs (or the part of
one) and the budget plan's choice; then, per budget, which architecture won and by how much
``--reference`` (default ``resnet9_fast``) trails or leads. ``--plot`` writes a PNG: test
accuracy against budget, and validation accuracy against training wall time for each run.

    python benchmarks/budget_curves.py [--budgets 1,5,15,60] [--architectures a,b,c]
        [--only-at MINUTES=a,b ...] [--archive PATH [--max-train N]]
        [--train-per-class N] [--test-per-class M] [--plot PATH] [--rows PATH.json]
        [--set NS.train.KEY=VALUE ...]
    python benchmarks/budget_curves.py --replot PATH.json [MORE.json ...] --plot PATH.png

``--rows`` saves every row (with its validation curve, the hardware line and the data) as
JSON, so ``--replot`` can redraw the plot and reprint the table without training again.
Given several files (runs on the same data, e.g. a 60-minute row run on its own), it draws
their rows together, with each run's hardware line in the title.

``--only-at 15=chavez_m2,resnet9_fast`` runs only those architectures at the 15-minute budget
(every architecture at 1 minute, the front-runners at the long budgets: 18 architectures at
1, 5, 15 and 60 minutes would take 24 hours of one machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    architecture_recipes,
    format_table,
    hardware_line,
    log,
    normalization_stats,
    synthetic_split,
)

REFERENCE = "resnet9_fast"
DEFAULT_ARCHITECTURES = "chavez_m1,chavez_m2,resnet9_fast"


def archive_splits(path: str, max_train: int | None, seed: int = 42):
    """``(train, validation, test)`` arrays of a CIFAR-100-format archive (80/20 split)."""
    from cifar100_kedro.data.cifar_format import read_archive
    from cifar100_kedro.data.splits import split_train_validation
    from cifar100_kedro.pipelines.data_processing.nodes import extract_arrays, validate_archive

    archive = validate_archive({**read_archive(path), "path": str(path)})
    train_all, test, _ = extract_arrays(archive)
    split = {"validation_fraction": 0.2, "seed": seed}
    train, validation = split_train_validation(train_all, split)
    if max_train and max_train < len(train["fine"]):
        train, _ = split_train_validation(
            train, {"validation_fraction": 1 - max_train / len(train["fine"]), "seed": seed}
        )
    return train, validation, test


def synthetic_splits(train_per_class: int, test_per_class: int):
    """``(train, validation, test)`` from the project's synthetic generator (three seeds)."""
    return (
        synthetic_split(train_per_class, seed=0),
        synthetic_split(test_per_class, seed=1),
        synthetic_split(test_per_class, seed=2),
    )


def test_accuracy(model, test: dict[str, np.ndarray], label_mode: str, tta: bool) -> float:
    """Top-1 accuracy on the test split (flip TTA when the recipe asks for it)."""
    from cifar100_kedro.training.tta import predict_probabilities

    probabilities = predict_probabilities(model, test["images"], tta=tta)
    return float((np.argmax(probabilities, axis=1) == test[label_mode]).mean())


def run_one(name: str, recipe: dict[str, Any], minutes: float, splits, stats) -> dict[str, Any]:
    """Train ``name`` for ``minutes`` through the engine and score it."""
    import keras

    from cifar100_kedro.training.engine import fit_model

    train, validation, test = splits
    keras.backend.clear_session()
    train_params = {**recipe["train"], "time_budget_minutes": minutes, "verbose": 0}
    with tempfile.TemporaryDirectory() as work, Timer() as whole:
        model, history, summary = fit_model(
            train, validation, stats, recipe["model"], train_params,
            architecture=name, work_dir=Path(work) / name,
        )  # fmt: skip
    label_mode = train_params.get("label_mode", "fine")
    accuracy = test_accuracy(model, test, label_mode, bool(train_params.get("tta")))
    budget = summary.get("budget", {})
    return {
        "budget_min": minutes,
        "architecture": name,
        "test_accuracy": accuracy,
        "wall_s": whole.wall,
        "train_wall_s": summary["training_seconds"],
        "train_cpu_s": summary.get("training_cpu_seconds") or float("nan"),
        "epochs": summary["epochs_run"] * summary.get("partial_epoch", 1.0),
        "batch": summary["batch_size"],
        "params": summary["trainable_params"],
        "candidate": budget.get("candidate"),
        "warmup_s": budget.get("warmup_seconds", float("nan")),
        "curve": list(
            zip(history["seconds"].cumsum().tolist(), history["val_accuracy"].tolist(), strict=True)
        ),
    }


def winners(rows: list[dict[str, Any]], reference: str) -> list[str]:
    """Per budget: the best architecture, and the reference's gap to it."""
    lines = []
    for minutes in sorted({r["budget_min"] for r in rows}):
        these = [r for r in rows if r["budget_min"] == minutes]
        best = max(these, key=lambda r: r["test_accuracy"])
        ref = next((r for r in these if r["architecture"] == reference), None)
        others = [r for r in these if r is not ref]
        # The reference's gap to the best other architecture (its margin when it wins).
        rival = max(others, key=lambda r: r["test_accuracy"]) if others else None
        gap = (
            ""
            if ref is None or rival is None
            else f"; {reference} {100 * (ref['test_accuracy'] - rival['test_accuracy']):+.1f} "
            f"points vs the best other ({rival['architecture']})"
        )
        if ref is None:
            verdict = ""
        elif rival is None:  # alone at this budget: no verdict to give
            verdict = f" (only {reference} ran)"
        else:
            verdict = f" ({reference} {'wins' if ref is best else 'loses'})"
        lines.append(
            f"{minutes:g} min: best {best['architecture']} {100 * best['test_accuracy']:.1f} %"
            f"{gap}{verdict}"
        )
    return lines


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Two panels: test accuracy vs budget; validation accuracy vs training wall seconds."""
    import matplotlib
    from matplotlib.figure import Figure

    # One legend for both panels, outside them: inside, it hid some runs' points.
    figure = Figure(figsize=(13, 5), layout="constrained")
    left, right = figure.subplots(1, 2)
    names = list(dict.fromkeys(r["architecture"] for r in rows))
    # One colour per architecture (tab20: up to 20; the default cycle repeats after 10).
    tab20 = matplotlib.colormaps["tab20"].colors  # pairs of shades: dark ones first
    palette = tab20[0::2] + tab20[1::2]
    for position, name in enumerate(names):
        mine = sorted((r for r in rows if r["architecture"] == name), key=lambda r: r["budget_min"])
        reference = name == REFERENCE
        left.plot(
            [r["budget_min"] for r in mine], [100 * r["test_accuracy"] for r in mine], "o-",
            label=name, color="black" if reference else palette[position % len(palette)],
            linewidth=2.5 if reference else 1.2, zorder=3 if reference else 2,
        )  # fmt: skip
        for index, r in enumerate(mine):
            if r["curve"]:
                seconds, accuracy = zip(*r["curve"], strict=True)
                right.plot(
                    seconds, [100 * a for a in accuracy], ".-", alpha=0.8,
                    color=left.lines[-1].get_color(), label=name if index == 0 else None,
                )  # fmt: skip
    left.set(xlabel="budget (wall minutes)", ylabel="test accuracy (%)", xscale="log")
    budgets = sorted({r["budget_min"] for r in rows})
    left.set_xticks(budgets, [f"{b:g}" for b in budgets])  # the budgets run, not powers of 10
    left.minorticks_off()
    right.set(xlabel="training wall seconds", ylabel="validation accuracy (%)", xscale="log")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    figure.legend(*left.get_legend_handles_labels(), loc="outside right center", fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=110)


def parse_only_at(items: list[str], budgets: list[float], names: list[str], error) -> dict:
    """``{minutes: [architectures]}`` from ``--only-at MINUTES=a,b`` (checked by name)."""
    only_at = {}
    for item in items:
        minutes, sep, chosen = item.partition("=")
        try:
            at = float(minutes)
        except ValueError:
            at = None
        if not sep or at not in budgets:
            error(f"--only-at {item!r}: expected MINUTES=a,b with MINUTES one of --budgets")
        unknown = sorted(set(chosen.split(",")) - set(names))
        if unknown:
            error(f"--only-at {item!r}: {unknown[0]!r} is not among --architectures")
        only_at[at] = chosen.split(",")
    return only_at


HEADERS = [
    "budget_min", "architecture", "test_accuracy", "wall_s", "train_wall_s", "train_cpu_s",
    "epochs", "batch", "params", "candidate", "warmup_s",
]  # fmt: skip


def report(rows: list[dict[str, Any]], reference: str) -> None:
    """Print the table and the per-budget verdicts."""
    print(format_table(HEADERS, [[row.get(h, float("nan")) for h in HEADERS] for row in rows]))
    print("\n".join(winners(rows, reference)))


def save_rows(path: Path, rows: list[dict[str, Any]], header: str, source: str) -> None:
    """Write the rows, with where and on what they were measured, as JSON (atomically)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"hardware": header, "data": source, "rows": rows}, indent=1))
    partial.replace(path)


def load_rows(path: Path, error) -> tuple[list[dict[str, Any]], str, str]:
    """``(rows, hardware line, data)`` from a ``--rows`` file (a clear error if it is not one)."""
    try:
        saved = json.loads(path.read_text())
        rows, header, source = saved["rows"], saved["hardware"], saved["data"]
        for row in rows:
            missing = {"budget_min", "architecture", "test_accuracy", "curve"} - set(row)
            if missing:
                raise KeyError(f"a row lacks {sorted(missing)}")
    except (OSError, ValueError, KeyError, TypeError) as problem:
        error(f"--replot {path}: not a rows file written by --rows ({problem!r})")
    return rows, header, source


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="1,5,15,60", help="wall minutes, comma-separated")
    parser.add_argument("--architectures", default=DEFAULT_ARCHITECTURES)
    parser.add_argument("--archive", help="a CIFAR-100-format .tar.gz (default: synthetic)")
    parser.add_argument("--max-train", type=int, default=0, help="archive: subsample train")
    parser.add_argument("--train-per-class", type=int, default=40)
    parser.add_argument("--test-per-class", type=int, default=10)
    parser.add_argument("--reference", default=REFERENCE)
    parser.add_argument("--plot", type=Path, help="write the curves as a PNG here")
    parser.add_argument("--rows", type=Path, help="save the rows as JSON here (for --replot)")
    parser.add_argument(
        "--replot", type=Path, nargs="+", metavar="ROWS.json",
        help="train nothing: reprint and replot the rows --rows runs saved (same data)",
    )  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="NS.train.KEY=VALUE")
    parser.add_argument(
        "--only-at", action="append", default=[], metavar="MINUTES=a,b",
        help="at this budget run only these architectures (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.replot:
        rows, headers, sources = [], [], {}
        for path in args.replot:
            more, run_header, run_source = load_rows(path, parser.error)
            rows += more
            headers.append(run_header)
            sources[str(path)] = run_source
        if len(set(sources.values())) > 1:
            parser.error(f"--replot: the files were measured on different data: {sources}")
        header, source = "\n".join(headers), next(iter(sources.values()))
        print(f"{header}\ndata: {source}\nrows: {', '.join(sources)}")
        report(rows, args.reference)
        if args.plot:
            plot(rows, args.plot, f"{header}\ndata: {source}")
            print(f"plot: {args.plot}")
        return rows
    budgets = [float(b) for b in args.budgets.split(",")]
    if not budgets or min(budgets) <= 0:
        parser.error("--budgets must be positive minutes")
    names = args.architectures.split(",")
    only_at = parse_only_at(args.only_at, budgets, names, parser.error)
    recipes = architecture_recipes(names, overrides=args.set)
    splits = (
        archive_splits(args.archive, args.max_train or None)
        if args.archive
        else synthetic_splits(args.train_per_class, args.test_per_class)
    )
    stats = normalization_stats(splits[0])
    source = args.archive or f"synthetic ({args.train_per_class}/class train)"
    header = hardware_line()
    log(f"{header}\ndata: {source}, {len(splits[0]['fine'])} train images")
    rows = []
    started = time.perf_counter()
    for minutes in budgets:
        for name, recipe in recipes.items():
            if name not in only_at.get(minutes, names):
                continue
            log(f"[{time.perf_counter() - started:.0f}s] {name}: {minutes:g} min budget")
            rows.append(run_one(name, recipe, minutes, splits, stats))
            log(f"  → {100 * rows[-1]['test_accuracy']:.1f} % in {rows[-1]['wall_s']:.0f}s")
            if args.rows:  # after every row: a long run stopped early keeps what it measured
                save_rows(args.rows, rows, header, source)
    print(header)
    print(f"command: python benchmarks/budget_curves.py {' '.join(argv or sys.argv[1:])}")
    print(f"data: {source}; {len(splits[0]['fine'])} train / {len(splits[1]['fine'])} "
          f"validation / {len(splits[2]['fine'])} test images")  # fmt: skip
    report(rows, args.reference)
    if args.plot:
        plot(rows, args.plot, f"{header}\ndata: {source}")
        print(f"plot: {args.plot}")
    return rows


if __name__ == "__main__":
    main()
