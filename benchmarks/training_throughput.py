"""Training images/s per architecture: the project's engine against an ImageDataGenerator feed.

For every architecture of the default run, the same body, optimiser, schedule, loss and
batch size (its conf recipe) is trained two (or three) ways, in the same process, interleaved:

* **engine**: what ``training.engine.fit_model`` runs — uint8 arrays → tf.data (shuffle,
  batch, prefetch) → model with on-graph normalisation, with the recipe's augmentation
  (Keras preprocessing layers) where its ``augmentation_placement`` puts it (``model`` by
  default) and its ``steps_per_execution``;
* **ImageDataGenerator**: the papers' pipeline — the deprecated
  ``tf.keras.preprocessing.image.ImageDataGenerator(...).flow(...)`` augmenting and
  normalising float32 images in NumPy/SciPy on the CPU, feeding ``model.fit`` a model without
  preprocessing layers. The recipe's augmentation is mapped to the closest IDG arguments
  (listed under the table);
* **engine, other placement** (recipes with augmentation only): the engine with the
  augmentation placed the other way (``augmentation_placement: dataset``: a parallel
  ``tf.data`` map, overlapped with the step).

Per architecture it prints images/s of each path, the ratio engine / IDG in wall time
(> 1 = engine faster) and in CPU time (total work; less sensitive to other processes on a
shared machine), the noise (the largest gap between a path's two fastest rounds in that
row; a ratio below 1.0 by less than it is a tie), the engine's CPU time per image, and how
many epochs of the real 40,000-image training split (plus its 10,000-image validation pass,
costed at a third of a training image each) fit in 60 minutes: at the rate measured in this
run, and if every core of this machine were free (from CPU time per image). Random uint8
images are used: throughput does not depend on content.

    python benchmarks/training_throughput.py [--quick] [--architectures a,b] [--images N]
        [--rounds R] [--min-seconds S] [--max-images M] [--no-idg]
    python benchmarks/training_throughput.py --device-variants [-- <device_variants options>]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REAL_TRAIN_IMAGES,
    REAL_VALIDATION_IMAGES,
    Timer,
    architecture_recipes,
    best_of,
    compile_like_engine,
    engine_augmenter,
    engine_model,
    engine_placement,
    format_table,
    hardware_line,
    log,
    num_classes_for,
    train_settings,
    usable_cores,
)

BUDGET_MINUTES = 60


def idg_arguments(
    augmentation: list[dict[str, Any]] | None, normalization: str
) -> tuple[dict[str, Any], list[str]]:
    """ImageDataGenerator arguments closest to a recipe's augmentation + normalisation, and
    notes on what could not be matched exactly."""
    kwargs: dict[str, Any] = {}
    notes: list[str] = []

    def span(value) -> float:
        return max(abs(v) for v in value) if isinstance(value, (list, tuple)) else abs(float(value))

    for step in augmentation or []:
        name = step["name"]
        if name == "random_flip":
            mode = step.get("mode", "horizontal_and_vertical")
            kwargs["horizontal_flip"] = "horizontal" in mode
            kwargs["vertical_flip"] = "vertical" in mode
        elif name == "random_translation":
            kwargs["height_shift_range"] = span(step.get("height_factor", 0.0))
            kwargs["width_shift_range"] = span(step.get("width_factor", 0.0))
            kwargs["fill_mode"] = step.get("fill_mode", "reflect")
        elif name == "random_crop_translate":  # integer shifts of up to ``pad`` pixels
            kwargs["height_shift_range"] = kwargs["width_shift_range"] = int(step.get("pad", 4))
            kwargs["fill_mode"] = step.get("fill_mode", "reflect")
        elif name == "random_zoom":
            kwargs["zoom_range"] = span(step.get("height_factor", 0.0))
            kwargs["fill_mode"] = step.get("fill_mode", "reflect")
        elif name == "random_rotation":
            kwargs["rotation_range"] = 360.0 * span(step.get("factor", 0.0))
            kwargs["fill_mode"] = step.get("fill_mode", "reflect")
        elif name == "random_shear":
            kwargs["shear_range"] = math.degrees(math.atan(span(step.get("x_factor", 0.0))))
            kwargs["fill_mode"] = step.get("fill_mode", "reflect")
        elif name == "random_brightness":
            factor = (
                span(step.get("factor", 0.0)) / 255.0
                if span(step.get("factor", 0.0)) > 1
                else span(step.get("factor", 0.0))
            )
            kwargs["brightness_range"] = (1.0 - factor, 1.0 + factor)
        else:
            notes.append(f"{name} has no ImageDataGenerator equivalent (left out)")
    if kwargs.get("fill_mode") not in (None, "reflect", "nearest", "constant", "wrap"):
        notes.append(f"fill_mode {kwargs['fill_mode']!r} → 'nearest'")
        kwargs["fill_mode"] = "nearest"
    if normalization == "rescale":
        kwargs["rescale"] = 1.0 / 255
    elif normalization == "rescale_center":  # paper 001: rescale, then featurewise centring
        kwargs["rescale"] = 1.0 / 255
        kwargs["featurewise_center"] = True
    elif normalization in ("center", "standardize"):
        kwargs["featurewise_center"] = True
        kwargs["featurewise_std_normalization"] = normalization == "standardize"
    return kwargs, notes


def idg_model(recipe: dict[str, Any], total_steps: int):
    """The same body with a float32 input and no preprocessing layers, compiled likewise
    (one step per call, as the papers' Keras 2 ``fit``)."""
    from cifar100_kedro.models import build_model

    classes = num_classes_for(recipe["train"])
    hyper = {k: v for k, v in recipe["model"].items() if k != "builder"}
    body = build_model(recipe["model"]["builder"], num_classes=classes, **hyper)
    # Keras 2's ``fit`` ran one step per call (``steps_per_execution`` came later).
    return compile_like_engine(body, recipe["train"], total_steps, classes, steps_per_execution=1)


def engine_setup(
    recipe, stats, x, y, batch: int, classes: int, total_steps: int, placement: str | None = None
):
    """The engine's compiled model and its shuffled tf.data input over ``x``/``y``, traced."""
    from cifar100_kedro.training.inputs import make_dataset

    model, one_hot = engine_model(recipe, stats, total_steps, placement=placement)
    dataset = make_dataset(
        x,
        y,
        batch,
        num_classes=classes,
        one_hot=one_hot,
        shuffle=True,
        seed=0,
        augment=engine_augmenter(recipe, placement=placement),
    )
    model.fit(dataset.take(1), verbose=0)  # compile and trace outside the timing
    return model, dataset, one_hot


def calibrated_steps(
    recipe, stats, batch: int, classes: int, steps: int, min_seconds: float, max_images: int
) -> int:
    """Steps per round so that a round of the engine lasts about ``min_seconds`` (at least
    ``steps``, at most ``max_images`` images): fixed costs of starting a ``fit`` (iterators,
    the shuffle buffer, IDG's worker) would otherwise dominate the rounds of the tiniest models."""
    import numpy as np

    probe_steps = min(steps, 4)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(probe_steps * batch, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, classes, size=len(x))
    model, dataset, _ = engine_setup(recipe, stats, x, y, batch, classes, total_steps=100)
    with Timer() as timer:
        model.fit(dataset, verbose=0)
    per_step = timer.wall / probe_steps
    del model
    wanted = math.ceil(min_seconds / max(per_step, 1e-6))
    return int(min(max(steps, wanted), max(2, max_images // batch)))


def measure_architecture(
    name: str,
    recipe: dict[str, Any],
    images: int,
    rounds: int,
    with_idg: bool,
    min_seconds: float = 0.0,
    max_images: int = 16384,
) -> dict[str, Any]:
    """Images/s of the engine and (optionally) the ImageDataGenerator feed for one recipe."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.backend.clear_session()
    train = recipe["train"]
    batch = int(train["batch_size"])
    classes = num_classes_for(train)
    stats = {"mean": [125.0, 122.0, 113.0], "std": [63.0, 62.0, 66.0]}
    steps = max(2, images // batch)
    if min_seconds:
        steps = calibrated_steps(recipe, stats, batch, classes, steps, min_seconds, max_images)
    count = steps * batch
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, classes, size=count)
    total_steps = steps * (rounds + 1)

    placement = engine_placement(recipe)
    where = f"augmentation in the {placement}" if train.get("augmentation") else "no augmentation"
    log(f"[training] {name}: batch {batch}, {steps} steps × {rounds} round(s), {where}")

    def engine_round_factory(placement: str) -> Any:
        model, dataset, one_hot = engine_setup(
            recipe, stats, x, y, batch, classes, total_steps, placement
        )

        def engine_round() -> Any:
            with Timer() as timer:
                model.fit(dataset.take(steps), verbose=0)
            return timer

        return engine_round, one_hot

    measures = {}
    measures["engine"], one_hot = engine_round_factory(placement)
    if train.get("augmentation"):
        measures["other"], _ = engine_round_factory(
            "model" if placement == "dataset" else "dataset"
        )
    notes: list[str] = []
    if with_idg:
        settings = train_settings(recipe, name)
        kwargs, notes = idg_arguments(list(settings.augmentation), settings.normalization)
        generator = tf.keras.preprocessing.image.ImageDataGenerator(**kwargs)
        generator.mean = np.asarray(stats["mean"], dtype="float32").reshape(1, 1, 3)
        if settings.normalization == "rescale_center":  # IDG centres after rescaling
            generator.mean = generator.mean / 255.0
        generator.std = np.asarray(stats["std"], dtype="float32").reshape(1, 1, 3)
        labels = keras.utils.to_categorical(y, classes) if one_hot else y
        flow = generator.flow(x, labels, batch_size=batch, shuffle=True, seed=0)
        reference, _ = idg_model(recipe, total_steps)
        reference.fit(flow, steps_per_epoch=1, epochs=1, verbose=0)

        def idg_round() -> Any:
            with Timer() as timer:
                reference.fit(flow, steps_per_epoch=steps, epochs=1, verbose=0)
            return timer

        measures["idg"] = idg_round
    # Keep every round too: their spread is this run's noise, against which ratios are read.
    rounds_seen: dict[str, list[Any]] = {key: [] for key in measures}

    def recorded(key: str, measure):
        def run() -> Any:
            rounds_seen[key].append(measure())
            return rounds_seen[key][-1]

        return run

    best = best_of(rounds, {key: recorded(key, measure) for key, measure in measures.items()})
    # Noise: how far each path's second-fastest round is from its fastest (the first round
    # can also pay one-off warm-up costs, so the slowest round would overstate it).
    noise = (
        max(
            sorted(t.wall for t in timers)[1] / min(t.wall for t in timers) - 1
            for timers in rounds_seen.values()
        )
        if rounds > 1
        else float("nan")
    )
    engine = best["engine"]
    engine_ips = count / engine.wall
    cpu_per_image = engine.cpu / count
    epoch_images = REAL_TRAIN_IMAGES + REAL_VALIDATION_IMAGES / 3
    row = {
        "architecture": name,
        "batch": batch,
        "placement": placement if train.get("augmentation") else "none",
        "images": count,
        "engine_ips": engine_ips,
        "engine_cores": engine.cores,
        "cpu_ms_per_image": 1000 * cpu_per_image,
        "epochs_60min_measured": BUDGET_MINUTES * 60 * engine_ips / epoch_images,
        "epochs_60min_free_cores": BUDGET_MINUTES
        * 60
        * usable_cores()
        / (cpu_per_image * epoch_images),
        "idg_ips": float("nan"),
        "ratio": float("nan"),
        "cpu_ratio": float("nan"),
        "other_ips": float("nan"),
        "notes": notes,
        "noise": noise,
    }
    if "idg" in best:
        row["idg_ips"] = count / best["idg"].wall
        row["ratio"] = row["engine_ips"] / row["idg_ips"]
        row["cpu_ratio"] = best["idg"].cpu / max(engine.cpu, 1e-9)
    if "other" in best:
        row["other_ips"] = count / best["other"].wall
    return row


def table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "architecture",
        "batch",
        "augmentation in",
        "engine img/s",
        "cores used",
        "IDG img/s",
        "engine / IDG (wall)",
        "engine / IDG (CPU)",
        "noise (2 best rounds)",
        "other placement img/s",
        "engine CPU ms/image",
        f"epochs in {BUDGET_MINUTES} min (as measured)",
        f"epochs in {BUDGET_MINUTES} min ({usable_cores()} free cores)",
    ]
    body = [
        [
            r["architecture"],
            r["batch"],
            r["placement"],
            r["engine_ips"],
            r["engine_cores"],
            r["idg_ips"],
            r["ratio"],
            r["cpu_ratio"],
            f"{100 * r['noise']:.0f} %" if r["noise"] == r["noise"] else "n/a",
            r["other_ips"],
            r["cpu_ms_per_image"],
            r["epochs_60min_measured"],
            r["epochs_60min_free_cores"],
        ]
        for r in rows
    ]
    return format_table(headers, body)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--architectures", help="comma-separated namespaces (default: every architecture)"
    )
    parser.add_argument(
        "--images", type=int, default=2048, help="training images per timed round (default 2048)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the fastest counts (default 3)"
    )
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=3.0,
        help="grow a round (up to --max-images) until the engine needs about this long (default 3)",
    )
    parser.add_argument(
        "--max-images", type=int, default=16384, help="images per round at most (default 16384)"
    )
    parser.add_argument("--no-idg", action="store_true", help="engine only")
    parser.add_argument(
        "--quick", action="store_true", help="--images 512 --rounds 2 --min-seconds 1.5"
    )
    parser.add_argument(
        "--device-variants",
        action="store_true",
        help="instead: float32 vs mixed_bfloat16, XLA off/on, thread settings "
        "(benchmarks/device_variants.py; give its options after --)",
    )
    argv = sys.argv[1:] if argv is None else argv
    if "--device-variants" in argv:
        import device_variants

        rest = argv[argv.index("--") + 1 :] if "--" in argv else []
        return device_variants.main(rest)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.rounds, args.min_seconds = 512, 2, 1.5
    if args.images < 1 or args.rounds < 1:
        parser.error("--images and --rounds must be positive")
    names = args.architectures.split(",") if args.architectures else None
    recipes = architecture_recipes(names)
    print(f"## Training throughput (engine vs ImageDataGenerator)\n\n{hardware_line()}\n")
    print(
        f"≥{args.images} random 32×32 images per round "
        "(at least 2 batches; more for fast models, so that a "
        f"round lasts ≈{args.min_seconds:g} s, up to {args.max_images}), "
        f"best of {args.rounds} interleaved round(s), "
        "each recipe's own batch size and steps per execution "
        "(IDG: one step per call, as Keras 2), float32.\n"
    )
    rows = [
        measure_architecture(
            n, r, args.images, args.rounds, not args.no_idg, args.min_seconds, args.max_images
        )
        for n, r in recipes.items()
    ]
    print(table(rows))
    slower = [r for r in rows if r["ratio"] == r["ratio"] and r["ratio"] < 1.0]
    if slower:

        def verdict(row: dict[str, Any]) -> str:
            if row["noise"] != row["noise"]:
                return "one round: no noise estimate"
            inside = "within" if row["ratio"] >= 1 - row["noise"] else "OUTSIDE"
            return f"{inside} this row's {100 * row['noise']:.0f} % noise"

        print(
            "\nEngine / IDG below 1.0 (wall) for: "
            + ", ".join(f"{r['architecture']} {r['ratio']:.2f} ({verdict(r)})" for r in slower)
        )
    else:
        print("\nEngine / IDG ≥ 1.0 (wall) for every architecture.")
    busy = [
        r["architecture"]
        for r in rows
        if r["engine_cores"] < 0.75 * usable_cores() and r["cpu_ms_per_image"] > 1
    ]
    if busy:
        print(
            f"\nThe machine was busy (the engine used < 75 % of {usable_cores()} cores) "
            f"for: {', '.join(busy)}; "
            "their wall-time figures understate a free machine: compare the CPU-time columns."
        )
    notes = sorted({f"{r['architecture']}: {note}" for r in rows for note in r["notes"]})
    if notes:
        print("\nImageDataGenerator mapping notes:\n" + "\n".join(f"- {n}" for n in notes))
    return rows


if __name__ == "__main__":
    main()
