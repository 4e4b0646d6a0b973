"""Evaluation images/s per architecture: the saved-model path, a paper-style path, and flip TTA.

For every architecture of the default run (random weights: speed does not depend on them):

* **engine**: ``model.predict(uint8 images)`` on the model the engine saves (normalisation
  in the graph, augmentation layers inactive) — what the reporting pipeline runs;
* **paper-style**: NumPy converts the images to float32 and normalises them (x/255 or
  (x − mean)/std, as the recipe says), then ``predict`` on the bare body — the papers' scripts;
* **flip TTA**: ``training.tta.predict_with_flip_tta`` (two passes: image and mirror).

It prints images/s of each, engine / paper-style (> 1 = the engine is faster) and the TTA
cost (engine / TTA, ≈ 2 expected).

    python benchmarks/evaluation_throughput.py [--quick] [--architectures a,b] [--images N]
        [--batch-size B] [--rounds R]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    architecture_recipes,
    best_of,
    engine_model,
    format_table,
    hardware_line,
    log,
    num_classes_for,
    train_settings,
)


def paper_style_inputs(images, normalization: str, stats: dict[str, Any]):
    """float32 inputs normalised in NumPy, as the papers' scripts prepare them."""
    import numpy as np

    x = images.astype(np.float32)
    if normalization == "rescale":
        return x / 255.0
    if normalization == "rescale_center":
        return (x - np.asarray(stats["mean"], dtype=np.float32)) / 255.0
    if normalization == "center":
        return x - np.asarray(stats["mean"], dtype=np.float32)
    if normalization == "standardize":
        return (x - np.asarray(stats["mean"], dtype=np.float32)) / np.asarray(
            stats["std"], dtype=np.float32
        )
    return x


def measure_architecture(
    name: str, recipe: dict[str, Any], images: int, batch_size: int, rounds: int
) -> dict[str, Any]:
    import keras
    import numpy as np

    from cifar100_kedro.models import build_model
    from cifar100_kedro.training.tta import predict_with_flip_tta

    keras.backend.clear_session()
    log(f"[evaluation] {name}: {images} images, batch {batch_size}")
    train = recipe["train"]
    normalization = train_settings(recipe, name).normalization
    stats = {"mean": [125.0, 122.0, 113.0], "std": [63.0, 62.0, 66.0]}
    x = np.random.default_rng(0).integers(0, 256, size=(images, 32, 32, 3), dtype=np.uint8)
    model, _ = engine_model(recipe, stats, total_steps=1)
    hyper = {k: v for k, v in recipe["model"].items() if k != "builder"}
    body = build_model(recipe["model"]["builder"], num_classes=num_classes_for(train), **hyper)
    # Trace every path once outside the timing.
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)
    body.predict(
        paper_style_inputs(x[:batch_size], normalization, stats), batch_size=batch_size, verbose=0
    )

    def engine() -> Timer:
        with Timer() as timer:
            model.predict(x, batch_size=batch_size, verbose=0)
        return timer

    def paper() -> Timer:
        with Timer() as timer:
            body.predict(
                paper_style_inputs(x, normalization, stats), batch_size=batch_size, verbose=0
            )
        return timer

    def tta() -> Timer:
        with Timer() as timer:
            predict_with_flip_tta(model, x, batch_size)
        return timer

    best = best_of(rounds, {"engine": engine, "paper": paper, "tta": tta})
    ips = {key: images / timer.wall for key, timer in best.items()}
    return {
        "architecture": name,
        "engine_ips": ips["engine"],
        "paper_ips": ips["paper"],
        "tta_ips": ips["tta"],
        "engine_vs_paper": ips["engine"] / ips["paper"],
        "tta_cost": ips["engine"] / ips["tta"],
        "cores": best["engine"].cores,
    }


def table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "architecture",
        "engine img/s",
        "cores used",
        "paper-style img/s",
        "engine / paper-style",
        "flip-TTA img/s",
        "TTA cost (×)",
    ]
    body = [
        [
            r["architecture"],
            r["engine_ips"],
            r["cores"],
            r["paper_ips"],
            r["engine_vs_paper"],
            r["tta_ips"],
            r["tta_cost"],
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
        "--images", type=int, default=2048, help="test images per timed round (default 2048)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=256,
        help="prediction batch size (default 256, as reporting)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved rounds; the fastest counts (default 2)"
    )
    parser.add_argument("--quick", action="store_true", help="--images 1024 --rounds 2")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.rounds = 1024, 2
    if min(args.images, args.batch_size, args.rounds) < 1:
        parser.error("--images, --batch-size and --rounds must be positive")
    names = args.architectures.split(",") if args.architectures else None
    recipes = architecture_recipes(names)
    print(f"## Evaluation throughput\n\n{hardware_line()}\n")
    print(
        f"{args.images} random 32×32 images, batch {args.batch_size}, "
        f"best of {args.rounds} interleaved round(s).\n"
    )
    rows = [
        measure_architecture(n, r, args.images, args.batch_size, args.rounds)
        for n, r in recipes.items()
    ]
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
