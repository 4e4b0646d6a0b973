"""Benchmark: does ``model.predict`` stall after its last batch, and does the fix remove it?

Keras turns a NumPy array into a ``tf.data`` pipeline with TensorFlow's default options (the
autotuner on); the project predicts through ``training.inputs.predict_arrays`` (a pipeline
with the autotuner off). Each call predicts random images with a Rana-sized network (four
256-filter convolutions); the time inside ``predict`` (from a callback's
``on_predict_begin`` to ``on_predict_end``) is compared with the whole call: the difference is
set-up and teardown, a second or two, unless the call stalls after its last batch with the
CPUs idle (watch ``vmstat 5`` beside it). Stalls are intermittent: the autotuner's optimiser
thread sleeps up to a minute between rounds, and only a long call lets its sleeps grow.

    python benchmarks/predict_teardown.py [--images 6000] [--trials 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import hardware_line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args()

    import keras

    from cifar100_kedro.training.inputs import predict_arrays

    model = keras.Sequential(
        [keras.Input((32, 32, 3))]
        + [keras.layers.Conv2D(256, 3, padding="same", activation="elu") for _ in range(4)]
        + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    )
    images = np.random.default_rng(0).integers(0, 255, (args.images, 32, 32, 3), np.uint8)
    images = images.astype("float32")

    class Inside(keras.callbacks.Callback):
        def on_predict_begin(self, logs=None):
            self.begin = time.perf_counter()

        def on_predict_end(self, logs=None):
            self.end = time.perf_counter()

    keras_predict = model.predict
    print(hardware_line())
    print("| call | trial | inside predict (s) | whole call (s) | set-up and teardown (s) |")
    print("|---|---|---|---|---|")
    for trial in range(args.trials):
        for name in ("model.predict(NumPy)", "predict_arrays"):
            inside = Inside()
            # The callback goes in through predict's keyword, whichever way the call is made.
            model.predict = lambda x, timer=inside, **kw: keras_predict(x, callbacks=[timer], **kw)
            started = time.perf_counter()
            if name == "predict_arrays":
                predict_arrays(model, images, batch_size=64)
            else:
                model.predict(images, batch_size=64, verbose=0)
            whole = time.perf_counter() - started
            print(
                f"| {name} | {trial} | {inside.end - inside.begin:.1f} | {whole:.1f} | "
                f"{whole - (inside.end - inside.begin):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
