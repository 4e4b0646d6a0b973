"""TensorFlow device settings from conf (the ``device`` parameters), passed explicitly.

Keys: ``accelerator`` (auto | cpu | gpu), ``memory_growth``, ``mixed_precision``
(off | mixed_float16 | mixed_bfloat16; GPU only — on CPU it is refused with a warning),
``xla``, ``intra_op_threads`` / ``inter_op_threads`` (0 = TensorFlow's default), ``seed``,
``deterministic``, ``strategy`` (default | mirrored | multi_worker_mirrored) and
``cpu_logical_devices`` (split the CPU into N logical devices, to exercise ``mirrored`` on a
machine without GPUs).

Every training node takes ``params:device`` as an input and hands it to the engine, which
calls :func:`runtime`: a node called from a notebook or by another runner sees the same
settings as one under ``kedro run``. The run hook calls :func:`runtime` once before the
pipeline because thread pools and device visibility can only be set before TensorFlow
starts; after that the same settings give the same cached :class:`DeviceRuntime`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

ACCELERATORS = ("auto", "cpu", "gpu")
PRECISIONS = ("off", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


@dataclass(frozen=True)
class DeviceSettings:
    """The checked ``device`` parameters (defaults = conf/base/parameters_device.yml)."""

    accelerator: str = "auto"
    memory_growth: bool = True
    mixed_precision: str = "off"
    xla: bool = False
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    seed: int = 42
    deterministic: bool = False
    strategy: str = "default"
    cpu_logical_devices: int = 0


@dataclass(frozen=True)
class DeviceRuntime:
    """What the engine needs from the applied settings."""

    settings: DeviceSettings
    strategy: tf.distribute.Strategy
    precision: str  # the compute policy in force: float32 | mixed_float16 | mixed_bfloat16

    @property
    def xla(self) -> bool:
        return self.settings.xla

    @property
    def seed(self) -> int:
        return self.settings.seed


def _choice(settings: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = settings.get(key, default)
    if value is False:
        value = "off"
    if value not in allowed:
        raise ValueError(f"parameter 'device.{key}' must be one of {allowed}, got {value!r}")
    return value


def parse_device(settings: Mapping[str, Any] | DeviceSettings | None) -> DeviceSettings:
    """Check the ``device`` parameters; unknown keys and bad values name the key."""
    if isinstance(settings, DeviceSettings):
        return settings
    settings = dict(settings or {})
    known = DeviceSettings.__dataclass_fields__
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"parameter 'device.{unknown[0]}' is unknown; known: {', '.join(known)}")
    return DeviceSettings(
        accelerator=_choice(settings, "accelerator", ACCELERATORS, "auto"),
        memory_growth=bool(settings.get("memory_growth", True)),
        mixed_precision=_choice(settings, "mixed_precision", PRECISIONS, "off"),
        xla=bool(settings.get("xla", False)),
        intra_op_threads=int(settings.get("intra_op_threads") or 0),
        inter_op_threads=int(settings.get("inter_op_threads") or 0),
        seed=int(settings.get("seed", 42)),
        deterministic=bool(settings.get("deterministic", False)),
        strategy=_choice(settings, "strategy", STRATEGIES, "default"),
        cpu_logical_devices=int(settings.get("cpu_logical_devices") or 0),
    )


def _configure_process(settings: DeviceSettings) -> list:
    """Device visibility, memory growth, logical CPUs, thread pools; return the GPUs.

    These can only change before TensorFlow initialises its runtime; in a process that already
    ran TensorFlow (a notebook, a test) they stay as they were, with a warning.
    """
    try:
        gpus = tf.config.list_physical_devices("GPU")
        if settings.accelerator == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
            gpus = []
        if settings.accelerator == "gpu" and not gpus:
            raise ValueError("parameter 'device.accelerator' is 'gpu' but TensorFlow sees no GPU")
        for gpu in gpus:
            if settings.memory_growth:
                tf.config.experimental.set_memory_growth(gpu, True)
        if settings.cpu_logical_devices > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * settings.cpu_logical_devices
            )
        if settings.intra_op_threads:
            tf.config.threading.set_intra_op_parallelism_threads(settings.intra_op_threads)
        if settings.inter_op_threads:
            tf.config.threading.set_inter_op_parallelism_threads(settings.inter_op_threads)
    except RuntimeError as exc:
        logger.warning(
            "Device settings left as they were (TensorFlow already initialised): %s", exc
        )
        gpus = tf.config.list_physical_devices("GPU")
    return gpus


def _make_strategy(name: str, gpus: list) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(
            devices=None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        )
    if name == "multi_worker_mirrored":
        # The cluster comes from the TF_CONFIG environment variable, as TensorFlow documents.
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


# Strategies are expensive and hold devices: one per distinct settings in this process.
_RUNTIMES: dict[DeviceSettings, DeviceRuntime] = {}


def runtime(settings: Mapping[str, Any] | DeviceSettings | None) -> DeviceRuntime:
    """Apply ``settings`` (the ``device`` parameters) and return the runtime the engine uses.

    The process-wide parts (precision policy, op determinism) are set on every call, so the
    last caller's settings are the ones in force, whoever configured the process before.
    """
    settings = parse_device(settings)
    cached = _RUNTIMES.get(settings)
    if cached is None:
        gpus = _configure_process(settings)
        precision = (
            "float32"
            if settings.mixed_precision in ("off", "float32")
            else settings.mixed_precision
        )
        if precision != "float32" and not gpus:
            logger.warning(
                "device.mixed_precision=%s ignored: no GPU (mixed precision is slower on this CPU)",
                precision,
            )
            precision = "float32"
        cached = DeviceRuntime(settings, _make_strategy(settings.strategy, gpus), precision)
        _RUNTIMES[settings] = cached
        logger.info(
            "TensorFlow %s: GPUs=%d, precision=%s, XLA=%s, strategy=%s (%d replicas), seed=%d%s",
            tf.__version__, len(gpus), precision, settings.xla, settings.strategy,
            cached.strategy.num_replicas_in_sync, settings.seed,
            ", deterministic" if settings.deterministic else "",
        )  # fmt: skip
    keras.mixed_precision.set_global_policy(cached.precision)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    return cached


def configure_device(settings: Mapping[str, Any] | None) -> DeviceRuntime:
    """Apply ``settings`` and seed every generator with ``device.seed`` (the run hook's call)."""
    applied = runtime(settings)
    keras.utils.set_random_seed(applied.seed)
    return applied



def is_multi_worker(applied: DeviceRuntime) -> bool:
    """True when the strategy spans several worker processes (a ``TF_CONFIG`` cluster)."""
    return isinstance(applied.strategy, tf.distribute.MultiWorkerMirroredStrategy)


def check_trainable(applied: DeviceRuntime) -> None:
    """Refuse, before any training or write, a strategy Keras cannot train with.

    Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy``
    (keras-team/keras#20585, open): its TensorFlow trainer averages the distributed input
    batch and each step's metrics across workers in ways the collective ops reject. Checked
    with Keras 3.15 / TensorFlow 2.21 and two workers on 127.0.0.1
    (``tests/training/test_multi_worker.py``).
    """
    if is_multi_worker(applied):
        raise ValueError(
            "parameter 'device.strategy' is 'multi_worker_mirrored', which Keras "
            f"{keras.__version__} cannot train with: model.fit fails under "
            "MultiWorkerMirroredStrategy (keras-team/keras#20585). Use 'mirrored' for the GPUs "
            "of one machine, and the Dask runner to train several models on several machines "
            "(docs/scaling.md)"
        )
