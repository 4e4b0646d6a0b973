"""Training throughput under device settings: float32 vs mixed_bfloat16, XLA off vs on, threads.

The device half of the throughput benchmark (``training_throughput.py --device-variants``
runs this). Per architecture, the engine's model (its conf recipe: body, augmentation in the
model, optimiser, loss, batch) is built once per variant — ``float32``, ``bf16``
(``mixed_bfloat16`` policy), ``float32+xla``, ``bf16+xla`` (``jit_compile=True``) — and the
variants are timed in one process, interleaved round by round (A B C D A B C D …), so a slow
spell of the shared machine hits all of them. Each thread setting
(``intra_op_threads:inter_op_threads``; ``0`` = TensorFlow's default) needs its own process
(thread pools are fixed when TensorFlow starts): the settings run one after another, each in a
child process, and ratios are given within a child (against its own ``float32``) and against
the first setting's ``float32`` (sequential, so noisier).

Per row: images/s, process CPU ms per training image (every thread), cores in use (CPU/wall),
and the ratios. ``xla`` says whether Keras really kept ``jit_compile`` (a model with a layer that
XLA cannot compile, e.g. ``RandomTranslation``, silently falls back to ``False``). Random uint8
images: throughput does not depend on content.

    python benchmarks/device_variants.py [--architectures resnet9_fast,khanna_vgg_cnn]
        [--variants float32,bf16,float32+xla,bf16+xla] [--threads 0:0,2:1,1:1]
        [--batch N] [--steps S] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    architecture_recipes,
    engine_model,
    format_table,
    hardware_line,
    log,
    num_classes_for,
)

VARIANTS = {  # name → (Keras precision policy, jit_compile)
    "float32": ("float32", False),
    "bf16": ("mixed_bfloat16", False),
    "float32+xla": ("float32", True),
    "bf16+xla": ("mixed_bfloat16", True),
}


def parse_threads(text: str) -> list[tuple[int, int]]:
    """``"0:0,2:1"`` → ``[(0, 0), (2, 1)]`` (intra-op, inter-op threads)."""
    pairs = []
    for item in text.split(","):
        intra, _, inter = item.partition(":")
        pairs.append((int(intra), int(inter or 0)))
    return pairs


def _dataset(recipe: dict[str, Any], batch: int, steps: int, one_hot: bool):
    import numpy as np
    import tensorflow as tf

    classes = num_classes_for(recipe["train"])
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch * steps, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, classes, size=batch * steps)
    targets = np.eye(classes, dtype="float32")[labels] if one_hot else labels
    return tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch).repeat().prefetch(2)


def measure_child(
    names: list[str], variants: list[str], batch: int | None, steps: int, rounds: int
) -> list[dict[str, Any]]:
    """Every (architecture, variant) in this process: best-of-``rounds`` wall, its CPU time."""
    import keras

    rows = []
    for name, recipe in architecture_recipes(names).items():
        recipe["train"]["batch_size"] = size = batch or int(recipe["train"]["batch_size"])
        stats = {"mean": [120.0] * 3, "std": [60.0] * 3}
        models, data = {}, None
        for variant in variants:
            policy, jit = VARIANTS[variant]
            keras.mixed_precision.set_global_policy(policy)
            model, one_hot = engine_model(recipe, stats, steps * (rounds + 1), jit_compile=jit)
            keras.mixed_precision.set_global_policy("float32")
            data = data or _dataset(recipe, size, steps, one_hot)
            log(f"{name} {variant}: compiling (xla kept: {bool(model.jit_compile)})")
            model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace/compile
            models[variant] = model
        best: dict[str, Timer] = {}
        for _ in range(rounds):
            for variant, model in models.items():
                with Timer() as timer:
                    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
                if variant not in best or timer.wall < best[variant].wall:
                    best[variant] = timer
        count = size * steps
        for variant, timer in best.items():
            rows.append(
                {
                    "architecture": name,
                    "batch": size,
                    "variant": variant,
                    "xla": bool(models[variant].jit_compile),
                    "ips": count / timer.wall,
                    "cpu_ms_per_image": 1000 * timer.cpu / count,
                    "cores": timer.cores,
                }
            )
        del models
        keras.backend.clear_session()
    return rows


def run_settings(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One child process per thread setting; their rows, labelled with the setting."""
    rows = []
    for intra, inter in parse_threads(args.threads):
        command = [
            sys.executable, __file__, "--child", f"{intra}:{inter}",
            "--architectures", args.architectures, "--variants", args.variants,
            "--steps", str(args.steps), "--rounds", str(args.rounds),
        ] + (["--batch", str(args.batch)] if args.batch else [])  # fmt: skip
        log(f"threads intra={intra} inter={inter}: {' '.join(command[2:])}")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit(f"child for threads {intra}:{inter} failed ({done.returncode})")
        for row in json.loads(done.stdout.strip().splitlines()[-1]):
            rows.append({**row, "threads": f"{intra}:{inter}"})
    return rows


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add wall and CPU ratios against float32 of the same threads and of the first threads
    setting (> 1 = faster / less CPU than that float32)."""
    first = rows[0]["threads"] if rows else None
    base = {(r["architecture"], r["threads"]): r for r in rows if r["variant"] == "float32"}
    out = []
    for row in rows:
        own = base.get((row["architecture"], row["threads"]))
        ref = base.get((row["architecture"], first))
        out.append(
            {
                **row,
                "wall_vs_f32": row["ips"] / own["ips"] if own else float("nan"),
                "cpu_vs_f32": own["cpu_ms_per_image"] / row["cpu_ms_per_image"]
                if own
                else float("nan"),
                "wall_vs_first": row["ips"] / ref["ips"] if ref else float("nan"),
            }
        )
    return out


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="resnet9_fast,khanna_vgg_cnn")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", default="0:0,2:1", help="intra:inter[,…]; 0 = default")
    parser.add_argument("--batch", type=int, default=0, help="0 = the recipe's batch")
    parser.add_argument("--steps", type=int, default=4, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names, variants = args.architectures.split(","), args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if args.child is not None:
        ((intra, inter),) = parse_threads(args.child)
        import tensorflow as tf

        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
        print(json.dumps(measure_child(names, variants, args.batch, args.steps, args.rounds)))
        return []
    rows = with_ratios(run_settings(args))
    print(hardware_line())
    print(f"command: python benchmarks/device_variants.py {' '.join(argv or sys.argv[1:])}")
    print(f"load average before the table: {os.getloadavg()[0]:.1f}")
    headers = [
        "architecture", "batch", "threads", "variant", "xla", "ips", "cpu_ms_per_image",
        "cores", "wall_vs_f32", "cpu_vs_f32", "wall_vs_first",
    ]  # fmt: skip
    print(format_table(headers, [[row[h] for h in headers] for row in rows]))
    return rows


if __name__ == "__main__":
    main()
