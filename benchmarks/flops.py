"""FLOPs per image and parameters of every architecture of the default run.

Counts the floating-point operations of one forward pass (batch 1, inference mode) with
TensorFlow's graph profiler on the frozen model body: a multiply-add counts as 2 FLOPs;
convolutions, dense layers, batch norm and activations are all included. Training costs
about 3× the forward pass (forward + two backward products), the usual rule of thumb;
"TFLOP per epoch" uses it on the 40,000 real CIFAR-100 training images of the project's split.

    python benchmarks/flops.py [--architectures a,b,...] [--markdown-only]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REAL_TRAIN_IMAGES,
    architecture_recipes,
    format_table,
    hardware_line,
    log,
    num_classes_for,
)

REFERENCE = "resnet9_fast"


def forward_flops(model) -> int:
    """FLOPs of one forward pass of ``model`` on a single image (TensorFlow profiler)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([1, *model.input_shape[1:]], model.inputs[0].dtype)

    @tf.autograph.experimental.do_not_convert
    def forward(x):
        return model(x, training=False)

    frozen = convert_variables_to_constants_v2(tf.function(forward).get_concrete_function(spec))
    options = (
        tf.compat.v1.profiler.ProfileOptionBuilder(
            tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    return int(tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops)


def measure(names: list[str] | None = None) -> list[dict]:
    """One row per architecture: parameters and FLOPs."""
    import keras

    from cifar100_kedro.models import build_model
    from cifar100_kedro.training.assembly import count_params

    rows = []
    for name, recipe in architecture_recipes(names).items():
        log(f"[flops] {name}")
        keras.backend.clear_session()
        hyper = {k: v for k, v in recipe["model"].items() if k != "builder"}
        body = build_model(
            recipe["model"]["builder"], num_classes=num_classes_for(recipe["train"]), **hyper
        )
        flops = forward_flops(body)
        rows.append(
            {
                "architecture": name,
                "builder": recipe["model"]["builder"],
                "trainable_params": count_params(body.trainable_weights),
                "forward_gflops": flops / 1e9,
                "train_tflop_per_epoch": 3 * flops * REAL_TRAIN_IMAGES / 1e12,
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    reference = next((r["forward_gflops"] for r in rows if r["architecture"] == REFERENCE), None)
    headers = [
        "architecture",
        "trainable params",
        "forward GFLOPs/image",
        f"× {REFERENCE}",
        "training TFLOP/epoch (40k images, ≈3× fwd)",
    ]
    body = [
        [
            r["architecture"],
            f"{r['trainable_params']:,}",
            r["forward_gflops"],
            r["forward_gflops"] / reference if reference else float("nan"),
            r["train_tflop_per_epoch"],
        ]
        for r in rows
    ]
    return format_table(headers, body)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--architectures", help="comma-separated namespaces (default: every architecture)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="accepted for run_all; FLOPs are always exact"
    )
    args = parser.parse_args(argv)
    names = args.architectures.split(",") if args.architectures else None
    print(f"## FLOPs per image\n\n{hardware_line()}\n")
    rows = measure(names)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
