"""What each fast-training ingredient of ``resnet9_fast`` buys, one at a time, at fixed epochs.

Issue 16 asks for every ingredient to be a parameter and to be measured. This script trains
``resnet9_fast`` through the engine (``training.engine.fit_model``) with its conf recipe,
one network and batch (``--width``, ``--batch``; the learning rate scaled linearly from the
recipe's 0.4 at 512, as the ``budget_plan`` does) and a fixed number of epochs, once as the
conf recipe ("base") and once per variant that switches one ingredient (a variant that
would not change the recipe, such as the stem it already has, is skipped):

    lookahead        train.lookahead {steps: 5, alpha: 0.5}  (Zhang et al. 2019; airbench)
    whitening_stem   model.stem whitening                    (airbench's 2×2 patch whitening)
    conv_stem        model.stem conv                         (Page's prep conv)
    keras_batchnorm  batch norm momentum 0.99, epsilon 1e-3  (Keras' defaults; the recipe's
                     0.9 / 1e-5 are PyTorch's, which the sources ran)
    airbench_batchnorm  momentum 0.4, epsilon 1e-12          (airbench94's 0.6 in PyTorch's
                     convention)
    progressive      train.progressive_resizing 16 → 24 → 32 (Howard 2018; FFCV)
    ema              train.optimizer.use_ema                  (weight averaging, Page part 8)
    no_smoothing     train.label_smoothing 0                  (the recipe's is 0.2)
    bf16             device.mixed_precision mixed_bfloat16    (CPUs with avx512_bf16/amx only)
    no_tta           flip test-time augmentation off          (scored without the mirror)

Fixed epochs, not a fixed time, so that the accuracy differences do not depend on how busy
a shared machine was; the cost of each variant is given as training CPU seconds and wall
seconds beside it (progressive resizing buys cheaper epochs, not better ones: compare it
at equal CPU seconds). Flip TTA is scored on the same trained base model.

    python benchmarks/ingredients.py [--archive PATH] [--max-train N] [--epochs 4]
        [--width 16 --batch 128] [--variants base,lookahead,...] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from budget_curves import archive_splits, synthetic_splits, test_accuracy
from common import (
    Timer,
    architecture_recipes,
    format_table,
    hardware_line,
    log,
    normalization_stats,
)

VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (model changes, train changes)
    "base": ({}, {}),
    "lookahead": ({}, {"lookahead": {"steps": 5, "alpha": 0.5}}),
    "whitening_stem": ({"stem": "whitening"}, {}),
    "conv_stem": ({"stem": "conv"}, {}),
    "keras_batchnorm": ({"batchnorm_momentum": 0.99, "batchnorm_epsilon": 1e-3}, {}),
    "airbench_batchnorm": ({"batchnorm_momentum": 0.4, "batchnorm_epsilon": 1e-12}, {}),
    "progressive": (
        {},
        {"progressive_resizing": [{"size": 16, "until": 0.35}, {"size": 24, "until": 0.7}]},
    ),
    "ema": ({}, {"optimizer": {"use_ema": True}}),
    "no_smoothing": ({}, {"label_smoothing": 0.0}),
    "bf16": ({}, {}),
}
# Variants that change the device settings rather than the recipe.
DEVICE_VARIANTS = {"bf16": {"mixed_precision": "mixed_bfloat16"}}


def variant_recipe(recipe: dict[str, Any], name: str, args) -> tuple[dict, dict]:
    """``(model, train)`` of ``resnet9_fast`` at ``--width``/``--batch`` with one variant."""
    model_changes, train_changes = VARIANTS[name]
    model = {**recipe["model"], "width": args.width, **model_changes}
    train = dict(recipe["train"])
    optimizer = dict(train["optimizer"])
    optimizer["learning_rate"] = optimizer["learning_rate"] * args.batch / 512
    optimizer.update(train_changes.get("optimizer", {}))
    train.update({k: v for k, v in train_changes.items() if k != "optimizer"})
    train.update(
        optimizer=optimizer, batch_size=args.batch, epochs=args.epochs, verbose=0,
        time_budget_minutes=None, budget_plan=None, seed=args.seed,
    )  # fmt: skip
    return model, train


def run_variant(name: str, recipe: dict[str, Any], splits, stats, args) -> list[dict[str, Any]]:
    """Train one variant and score it (the base also without flip TTA)."""
    import keras

    from cifar100_kedro.training.engine import fit_model

    train_split, validation, test = splits
    model_params, train_params = variant_recipe(recipe, name, args)
    keras.backend.clear_session()
    try:
        with tempfile.TemporaryDirectory() as work, Timer() as whole:
            model, _, summary = fit_model(
                train_split, validation, stats, model_params, train_params,
                architecture="resnet9_fast", work_dir=Path(work) / name,
                device_settings=DEVICE_VARIANTS.get(name),
            )  # fmt: skip
    except ValueError as exc:  # e.g. bf16 on a CPU without bfloat16 instructions
        log(f"  {name}: not run: {exc}")
        return []
    row = {
        "variant": name,
        "test_accuracy": test_accuracy(model, test, "fine", bool(train_params.get("tta"))),
        "val_accuracy": summary["final"].get("val_accuracy"),
        "train_wall_s": summary["training_seconds"],
        "train_cpu_s": summary.get("training_cpu_seconds"),
        "wall_s": whole.wall,
    }
    rows = [row]
    if name == "base":
        rows.append({**row, "variant": "no_tta", "test_accuracy": test_accuracy(
            model, test, "fine", False
        )})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", help="a CIFAR-100-format .tar.gz (default: synthetic)")
    parser.add_argument("--max-train", type=int, default=0, help="archive: subsample train")
    parser.add_argument("--train-per-class", type=int, default=40)
    parser.add_argument("--test-per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    if "base" not in names:
        names.insert(0, "base")
    recipe = architecture_recipes(["resnet9_fast"])["resnet9_fast"]
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
    for name in names:
        if (
            name != "base"
            and variant_recipe(recipe, name, args) == variant_recipe(recipe, "base", args)
            and name not in DEVICE_VARIANTS
        ):
            log(f"{name}: skipped (the recipe already has it)")
            continue
        log(f"{name} …")
        rows.extend(run_variant(name, recipe, splits, stats, args))
        log(f"  → {100 * rows[-1]['test_accuracy']:.1f} %")
    if not rows or rows[0]["variant"] != "base":
        raise SystemExit("the base recipe did not run")
    base = rows[0]
    for row in rows:
        row["vs_base_points"] = 100 * (row["test_accuracy"] - base["test_accuracy"])
        row["cpu_vs_base"] = (row["train_cpu_s"] or 0) / (base["train_cpu_s"] or 1)
    print(header)
    print(f"command: python benchmarks/ingredients.py {' '.join(argv or sys.argv[1:])}")
    print(
        f"data: {source}; {len(splits[0]['fine'])} train / {len(splits[2]['fine'])} test "
        f"images; resnet9_fast width {args.width}, batch {args.batch}, {args.epochs} epochs, "
        f"seed {args.seed}"
    )
    headers = [
        "variant", "test_accuracy", "vs_base_points", "val_accuracy", "train_cpu_s",
        "cpu_vs_base", "train_wall_s", "wall_s",
    ]  # fmt: skip
    print(format_table(headers, [[row[h] for h in headers] for row in rows]))
    return rows


if __name__ == "__main__":
    main()
