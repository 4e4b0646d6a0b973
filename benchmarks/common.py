"""Shared helpers of the benchmark scripts: hardware line, recipes from conf, synthetic data,
models built exactly as the training engine builds them, timing and table printing.

Benchmarks print ratios measured in the same run: absolute times on a shared machine are
noisy, ratios much less so. Every timing is reported as wall time *and* process CPU time
(all threads), so a reader can tell contention (cores used < cores available) from cost.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF = PROJECT_ROOT / "conf"
# Real CIFAR-100 sizes with the project's 0.2 validation split, for "epochs in N minutes".
REAL_TRAIN_IMAGES = 40_000
REAL_VALIDATION_IMAGES = 10_000


# ----------------------------------------------------------------------------- hardware
def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def hardware_line() -> str:
    """One line: CPU, cores, load, GPUs, TensorFlow/Keras versions, date."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    gpu_text = (
        ", ".join(
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        )
        or "none"
    )
    try:
        load = "load avg {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load n/a"
    return (
        f"{time.strftime('%Y-%m-%d %H:%M')} | CPU: {cpu_model()}, "
        f"{usable_cores()} cores ({load}) | "
        f"GPU: {gpu_text} | Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )


# ----------------------------------------------------------------------------- recipes
def load_parameters(env: str | None = None) -> dict[str, Any]:
    """The project's parameters (base, soft-merged with ``env`` if given), as Kedro loads them."""
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(
        conf_source=str(CONF),
        base_env="base",
        default_run_env=env or "base",
        merge_strategy={"parameters": "soft"},
    )
    return loader["parameters"]


def offline_model_params(model_params: dict[str, Any]) -> dict[str, Any]:
    """``model_params`` with downloadable ImageNet weights replaced by random ones (same
    architecture and compute; this workplace cannot download them)."""
    params = dict(model_params)
    if params.get("weights") == "imagenet":
        params["weights"] = None
    return params


def apply_overrides(recipes: dict[str, dict[str, Any]], overrides: Iterable[str]) -> None:
    """Apply ``namespace.model|train.key[.subkey]=value`` overrides (values parsed as YAML),
    as ``kedro run --params`` would, to ``recipes`` in place."""
    import copy

    import yaml

    for item in overrides:
        key, sep, raw = item.partition("=")
        path = key.strip().split(".")
        if not sep or len(path) < 3 or path[1] not in ("model", "train"):
            raise SystemExit(f"--set {item!r}: expected NAMESPACE.model|train.KEY=VALUE")
        if path[0] not in recipes:
            raise SystemExit(
                f"--set {item!r}: {path[0]!r} is not among the benchmarked architectures"
            )
        node = recipes[path[0]]
        node[path[1]] = copy.deepcopy(node[path[1]])
        node = node[path[1]]
        for part in path[2:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw)


def benchmarked_namespaces() -> tuple[str, ...]:
    """The default run's architectures (the registry's ``default_training()``), in its order."""
    from cifar100_kedro.architectures import default_training

    return tuple(architecture.namespace for architecture in default_training())


def architecture_recipes(
    names: Iterable[str] | None = None, env: str | None = None, overrides: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """``{namespace: {"model": ..., "train": ...}}`` for the default run's architectures,
    with ``overrides`` (see :func:`apply_overrides`) applied."""
    from cifar100_kedro.training.recipe import validate_train_params

    parameters = load_parameters(env)
    default = benchmarked_namespaces()
    wanted = list(names) if names else list(default)
    unknown = [name for name in wanted if name not in parameters]
    if unknown:
        raise SystemExit(
            f"no recipe in conf/ for architecture(s) {unknown}; known: {sorted(default)}"
        )
    recipes = {
        name: {
            "model": offline_model_params(parameters[name]["model"]),
            "train": dict(parameters[name]["train"]),
        }
        for name in wanted
    }
    apply_overrides(recipes, overrides)
    for name, recipe in recipes.items():
        validate_train_params(recipe["train"], f"{name}.train")
    return recipes


def train_settings(recipe: dict[str, Any], name: str = "benchmark"):
    """``recipe``'s ``train`` parsed as the engine parses it (a frozen ``TrainSettings``:
    every default filled; ``.augmentation_placement``, ``.normalization``, ``.one_hot`` …)."""
    from cifar100_kedro.training.recipe import parse_train

    return parse_train(recipe["train"], f"{name}.train")


# ----------------------------------------------------------------------------- data
def synthetic_split(images_per_class: int, seed: int) -> dict[str, np.ndarray]:
    """The project's synthetic CIFAR-100 stand-in as model-input arrays (uint8 N×32×32×3)."""
    from cifar100_kedro.data.labels import FINE_TO_COARSE
    from cifar100_kedro.data.synthetic import generate_split

    payload = generate_split(images_per_class, seed=seed)
    data = np.asarray(payload[b"data"], dtype=np.uint8)
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1).copy()
    fine = np.asarray(payload[b"fine_labels"], dtype=np.int64)
    return {
        "images": images,
        "fine": fine,
        "coarse": np.asarray(FINE_TO_COARSE)[fine].astype(np.int64),
    }


def normalization_stats(split: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Per-channel mean/std (0-255 scale), as data_processing computes them."""
    images = split["images"].astype(np.float64)
    return {
        "mean": images.mean(axis=(0, 1, 2)).tolist(),
        "std": images.std(axis=(0, 1, 2)).tolist(),
    }


def num_classes_for(train_params: dict[str, Any]) -> int:
    return 20 if train_params.get("label_mode", "fine") == "coarse" else 100


# ----------------------------------------------------------------------------- models
def compile_like_engine(
    model,
    train_params: dict[str, Any],
    total_steps: int,
    num_classes: int,
    where: str = "benchmark",
    steps_per_execution: int | None = None,
    jit_compile: bool = False,
):
    """Compile ``model`` with the recipe's optimiser, schedule and loss, as ``fit_model`` does
    (``steps_per_execution``: the recipe's unless given; ``jit_compile``: ``device.xla``)."""
    import keras

    from cifar100_kedro.training.assembly import make_optimizer
    from cifar100_kedro.training.recipe import parse_train
    from cifar100_kedro.training.schedules import make_learning_rate

    settings = parse_train(train_params, where)
    lr = make_learning_rate(settings.optimizer, settings.schedule, max(1, total_steps), where)
    loss = (
        keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
        if settings.one_hot
        else keras.losses.SparseCategoricalCrossentropy()
    )
    model.compile(
        optimizer=make_optimizer(settings.optimizer, lr, where),
        loss=loss,
        metrics=["accuracy"],
        steps_per_execution=int(steps_per_execution or settings.steps_per_execution),
        jit_compile=jit_compile,
    )
    return model, settings.one_hot


def engine_placement(recipe: dict[str, Any], placement: str | None = None) -> str:
    """Where the engine runs ``recipe``'s augmentation (``placement`` overrides the recipe)."""
    return placement or train_settings(recipe).augmentation_placement


def engine_model(
    recipe: dict[str, Any],
    stats: dict[str, Any],
    total_steps: int,
    seed: int = 0,
    placement: str | None = None,
    jit_compile: bool = False,
):
    """``uint8 → normalisation → [augmentation, when placed in the model] → body``, compiled:
    the engine's model (built under the global precision policy in force, float32 outputs
    under mixed precision, as the engine does)."""
    import keras

    from cifar100_kedro.models import build_model
    from cifar100_kedro.training.assembly import assemble_model

    settings = train_settings(recipe)
    classes = num_classes_for(recipe["train"])
    hyper = {k: v for k, v in recipe["model"].items() if k != "builder"}
    body = build_model(recipe["model"]["builder"], num_classes=classes, **hyper)
    in_model = engine_placement(recipe, placement) == "model"
    model = assemble_model(
        body,
        settings.normalization,
        stats,
        settings.augmentation if in_model else None,
        seed=seed,
        float32_outputs=keras.mixed_precision.global_policy().name != "float32",
    )
    return compile_like_engine(
        model, recipe["train"], total_steps, classes, jit_compile=jit_compile
    )


def engine_augmenter(recipe: dict[str, Any], seed: int = 0, placement: str | None = None):
    """The engine's tf.data augmentation function for ``recipe`` (None when in the model)."""
    from cifar100_kedro.training.inputs import dataset_augmenter

    if engine_placement(recipe, placement) != "dataset":
        return None
    return dataset_augmenter(train_settings(recipe).augmentation, seed)


# ----------------------------------------------------------------------------- timing
class Timer:
    """Wall and process-CPU seconds of a block (CPU time counts every thread)."""

    def __enter__(self) -> Timer:  # noqa: PYI034 (Python 3.10 has no typing.Self)
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    @property
    def cores(self) -> float:
        return self.cpu / max(self.wall, 1e-9)


def best_of(rounds: int, measures: dict[str, Callable[[], Timer]]) -> dict[str, Timer]:
    """Run each measure ``rounds`` times, interleaved (A B A B …) so slow spells of a shared
    machine hit both; keep each one's fastest (wall) round."""
    best: dict[str, Timer] = {}
    for _ in range(rounds):
        for name, measure in measures.items():
            timer = measure()
            if name not in best or timer.wall < best[name].wall:
                best[name] = timer
    return best


# ----------------------------------------------------------------------------- output
def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-Markdown table (also readable in a terminal)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "n/a"
            return (
                f"{value:,.0f}"
                if abs(value) >= 100
                else f"{value:.3g}"
                if abs(value) < 1
                else f"{value:.2f}"
            )
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)
    ]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in text]
    return "\n".join(lines)


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the tables."""
    print(message, file=sys.stderr, flush=True)
