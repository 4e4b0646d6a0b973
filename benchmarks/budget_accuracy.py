"""Accuracy after a fixed CPU budget, per architecture, on the synthetic CIFAR-100 source.

Each architecture trains with its own conf recipe (optimiser, schedule, batch size, loss,
label smoothing, on-graph augmentation; the model the engine builds) on the project's
synthetic CIFAR-format data, epoch by epoch, until its **CPU budget** (process CPU seconds,
all threads; evaluation excluded) is spent or its recipe's epochs are done. After every epoch
it is scored on a held-out synthetic test split (with flip TTA where the recipe says
``tta: true``). CPU seconds, not wall seconds, so that other work on a shared machine
changes the numbers less.

A recipe whose learning-rate schedule must know its length (one-cycle, warm-up + linear,
cosine) gets it the way ``time_budget_minutes`` does in the engine: a short timed warm-up
(CPU time per step) picks the epoch count that fits 90 % of the budget, at most the recipe's
epochs. Other recipes simply stop when the budget is spent.

Printed per architecture: epochs run, CPU seconds used, the accuracy of the last epoch that
ended within the budget and the best accuracy of any epoch within it, the CPU seconds it took
to first reach ``--target`` accuracy, and that time relative to the fastest ``resnet9_fast``
row's (> 1 = resnet9_fast got there faster).
Not reproduced here: early stopping / checkpoint callbacks (no validation split is used),
ImageNet or autoencoder pre-training (random weights; such rows are flagged).

    python benchmarks/budget_accuracy.py [--quick] [--architectures a,b]
        [--budget-cpu-seconds S] [--train-per-class N] [--test-per-class M] [--target A]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    architecture_recipes,
    engine_augmenter,
    engine_model,
    format_table,
    hardware_line,
    log,
    normalization_stats,
    synthetic_split,
    train_settings,
)

REFERENCE = "resnet9_fast"
# Extra rows run beside a namespace when it is benchmarked: (label, namespace, overrides).
# The conf recipe's batch of 512 is sized for 40,000 images; on a few thousand synthetic
# images it leaves a handful of steps per budget. Page's linear-scaling rule ("How to Train
# Your ResNet 2: Mini-batches": learning rate ∝ batch size) gives the equivalent recipe at
# batch 128 with 4× more steps (Keras' decoupled weight decay scales with the rate already).
VARIANTS = (
    (
        "resnet9_fast@batch128",
        "resnet9_fast",
        ("train.batch_size=128", "train.optimizer.learning_rate=0.1"),
    ),
)
LENGTH_AWARE_SCHEDULES = ("one_cycle", "warmup_linear", "cosine")
SCHEDULE_SHARE_OF_BUDGET = 0.9


def caveats(name: str, recipe: dict[str, Any]) -> list[str]:
    """Why a row is not the paper's full setting."""
    notes = []
    if recipe["train"].get("label_mode") == "coarse":
        notes.append("20 coarse classes")
    model = recipe["model"]
    if "weights" in model and model.get("weights") is None:
        notes.append("random backbone (no ImageNet weights offline)")
    if name.startswith("chakraborti_t_"):
        notes.append("encoder not pre-trained")
    return notes


def cpu_seconds_per_step(recipe, stats, dataset, steps: int = 3) -> float:
    """CPU seconds per training step, from a throw-away copy (after compiling it)."""
    probe, _ = engine_model(recipe, stats, total_steps=100)
    probe.fit(dataset.take(2), verbose=0)
    with Timer() as timer:
        probe.fit(dataset.take(steps), verbose=0)
    del probe
    return timer.cpu / steps


def run_architecture(
    name: str, recipe: dict[str, Any], train, test, budget: float, target: float
) -> dict[str, Any]:
    import keras
    import numpy as np

    from cifar100_kedro.training.inputs import make_dataset
    from cifar100_kedro.training.tta import predict_with_flip_tta

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    settings = train_settings(recipe, name)
    label_mode = settings.label_mode
    classes = 20 if label_mode == "coarse" else 100
    batch = min(settings.batch_size, len(train["images"]))
    steps_per_epoch = math.ceil(len(train["images"]) / batch)
    stats = normalization_stats(train)
    dataset = make_dataset(
        train["images"],
        train[label_mode],
        batch,
        num_classes=classes,
        one_hot=settings.one_hot,
        shuffle=True,
        augment=engine_augmenter(recipe),
    )
    max_epochs = int(settings.epochs or 10**6)
    schedule = settings.schedule.get("name", "constant")
    if schedule in LENGTH_AWARE_SCHEDULES:
        per_step = cpu_seconds_per_step(recipe, stats, dataset)
        fitting = int(SCHEDULE_SHARE_OF_BUDGET * budget / (per_step * steps_per_epoch))
        max_epochs = max(1, min(max_epochs, fitting))
        log(f"[budget] {name}: {per_step:.2f} CPU s/step → schedule of {max_epochs} epochs")
        keras.utils.set_random_seed(0)
    model, _ = engine_model(recipe, stats, total_steps=steps_per_epoch * max_epochs)
    tta = settings.tta
    curve: list[tuple[int, float, float]] = []  # (epoch, cumulative CPU s, accuracy)
    spent = 0.0
    for epoch in range(1, max_epochs + 1):
        with Timer() as timer:
            model.fit(dataset, epochs=1, verbose=0)
        spent += timer.cpu
        if tta:
            probabilities = predict_with_flip_tta(model, test["images"], 256)
        else:
            probabilities = model.predict(test["images"], batch_size=256, verbose=0)
        accuracy = float((np.argmax(probabilities, axis=1) == test[label_mode]).mean())
        curve.append((epoch, spent, accuracy))
        log(
            f"[budget] {name}: epoch {epoch}, {spent:.0f}/{budget:.0f} CPU s, "
            f"accuracy {accuracy:.3f}"
        )
        if spent >= budget:
            break
    within = [point for point in curve if point[1] <= budget]
    reached = next((point for point in curve if point[2] >= target), None)
    best_within = max(within, key=lambda point: point[2]) if within else None
    return {
        "curve": curve,
        "budget": budget,
        "best_within_budget": best_within[2] if best_within else float("nan"),
        "seconds_to_best": best_within[1] if best_within else float("nan"),
        "architecture": name,
        "batch": batch,
        "epochs": len(curve),
        "cpu_seconds": spent,
        "accuracy_at_budget": within[-1][2] if within else float("nan"),
        "seconds_to_target": reached[1] if reached and reached[1] <= budget else float("nan"),
        "first_epoch_seconds": curve[0][1],
        "notes": caveats(name, recipe),
    }


def table(rows: list[dict[str, Any]], target: float) -> str:
    ours = [
        r["seconds_to_target"]
        for r in rows
        if r["architecture"].startswith(REFERENCE) and not math.isnan(r["seconds_to_target"])
    ]
    reference = min(ours) if ours else float("nan")
    headers = [
        "architecture",
        "batch",
        "epochs",
        "CPU s used",
        "accuracy @ budget",
        "best epoch's accuracy",
        f"CPU s to {target:.0%}",
        f"÷ fastest {REFERENCE} row",
        "notes",
    ]
    body = []
    for r in rows:
        seconds = r["seconds_to_target"]
        if math.isnan(seconds):
            relative = "not reached" if not math.isnan(reference) else "n/a"
            seconds_text = "not reached"
        else:
            relative = seconds / reference if not math.isnan(reference) else float("nan")
            seconds_text = seconds
        body.append(
            [
                r["architecture"],
                r["batch"],
                r["epochs"],
                r["cpu_seconds"],
                r["accuracy_at_budget"],
                r["best_within_budget"],
                seconds_text,
                relative,
                "; ".join(r["notes"]),
            ]
        )
    return format_table(headers, body)


def verdict(rows: list[dict[str, Any]], target: float) -> str:
    """For each ``resnet9_fast`` row: did it reach the target before every paper model?"""
    ours = [r for r in rows if r["architecture"].startswith(REFERENCE)]
    if not ours:
        return f"({REFERENCE} not in this run)"
    papers = [
        r
        for r in rows
        if not r["architecture"].startswith(REFERENCE) and "20 coarse classes" not in r["notes"]
    ]
    lines = []
    scored = [r for r in papers if not math.isnan(r["accuracy_at_budget"])]
    if scored:
        # A threshold nobody picked: the best accuracy any fine-label paper model reached.
        best = max(scored, key=lambda r: r["best_within_budget"])
        bar = best["best_within_budget"]
        lines.append(
            f"- Best fine-label paper model within the budget: {best['architecture']}, "
            f"{bar:.1%} (after {best['seconds_to_best']:.0f} CPU s)."
        )
        for reference in ours:
            passed = next(
                (p for p in reference["curve"] if p[2] > bar and p[1] <= reference["budget"]), None
            )
            lines.append(
                f"- {reference['architecture']} "
                + (
                    f"exceeded it after {passed[1]:.0f} CPU s ({passed[2]:.1%})."
                    if passed
                    else "did not exceed it within the budget "
                    f"(best {reference['best_within_budget']:.1%})."
                )
            )
    for reference in ours:
        name = reference["architecture"]
        if math.isnan(reference["seconds_to_target"]):
            lines.append(f"- {name} did not reach {target:.0%} within the budget.")
            continue
        faster = [
            r["architecture"]
            for r in papers
            if not math.isnan(r["seconds_to_target"])
            and r["seconds_to_target"] <= reference["seconds_to_target"]
        ]
        if faster:
            lines.append(
                f"- {name} reached {target:.0%} in {reference['seconds_to_target']:.0f} CPU s; "
                f"paper models as fast or faster: {', '.join(faster)}."
            )
        else:
            lines.append(
                f"- {name} reached {target:.0%} in {reference['seconds_to_target']:.0f} CPU s, "
                "before every "
                f"fine-label paper model in this run ({len(papers)})."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--architectures", help="comma-separated namespaces (default: every architecture)"
    )
    parser.add_argument(
        "--budget-cpu-seconds",
        type=float,
        default=300.0,
        help="CPU seconds per architecture (default 300)",
    )
    parser.add_argument(
        "--train-per-class",
        type=int,
        default=40,
        help="synthetic training images per class (default 40)",
    )
    parser.add_argument(
        "--test-per-class",
        type=int,
        default=10,
        help="synthetic test images per class (default 10)",
    )
    parser.add_argument("--target", type=float, default=0.5, help="accuracy to time (default 0.5)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NS.model|train.KEY=VALUE",
        help="override a recipe value for this run (repeatable), "
        "e.g. resnet9_fast.train.batch_size=128",
    )
    parser.add_argument(
        "--no-variants",
        action="store_true",
        help=f"leave out the extra rows {[v[0] for v in VARIANTS]}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="--budget-cpu-seconds 90 --train-per-class 20 --test-per-class 5",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.budget_cpu_seconds, args.train_per_class, args.test_per_class = 90.0, 20, 5
    if (
        args.budget_cpu_seconds <= 0
        or min(args.train_per_class, args.test_per_class) < 1
        or not 0 < args.target <= 1
    ):
        parser.error("--budget-cpu-seconds must be > 0, images per class ≥ 1, --target in (0, 1]")
    names = args.architectures.split(",") if args.architectures else None
    recipes = architecture_recipes(names, overrides=args.set)
    if not args.no_variants:
        for label, namespace, overrides in VARIANTS:
            if namespace in recipes:
                variant = architecture_recipes(
                    [namespace], overrides=[f"{namespace}.{o}" for o in overrides]
                )
                recipes[label] = variant[namespace]
    train = synthetic_split(args.train_per_class, seed=0)
    test = synthetic_split(args.test_per_class, seed=1)
    print(f"## Accuracy after a fixed CPU budget (synthetic data)\n\n{hardware_line()}\n")
    print(
        f"Synthetic CIFAR-100 stand-in: {len(train['images'])} training / "
        f"{len(test['images'])} test images; "
        f"budget {args.budget_cpu_seconds:.0f} CPU s per architecture (evaluation excluded); "
        f"target {args.target:.0%}."
        + (f" Overrides: {', '.join(args.set)}." if args.set else "")
        + "\n"
    )
    rows = [
        run_architecture(n, r, train, test, args.budget_cpu_seconds, args.target)
        for n, r in recipes.items()
    ]
    print(table(rows, args.target))
    print("\n" + verdict(rows, args.target))
    return rows


if __name__ == "__main__":
    main()
