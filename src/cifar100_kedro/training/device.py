"""TensorFlow device settings from conf (``device`` parameters), applied once per run.

Keys: ``accelerator`` (auto | cpu | gpu), ``memory_growth``, ``mixed_precision``
(off | mixed_float16 | mixed_bfloat16; GPU only — on CPU it is slower, so it is refused with
a warning), ``xla``, ``intra_op_threads`` / ``inter_op_threads`` (0 = TensorFlow's default),
``seed``, ``deterministic``, ``strategy`` (default | mirrored | multi_worker_mirrored) and
``cpu_logical_devices`` (split the CPU into N logical devices, to exercise ``mirrored`` on
a machine without GPUs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

ACCELERATORS = ("auto", "cpu", "gpu")
PRECISIONS = ("off", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


@dataclass
class DeviceState:
    """What was applied, so the engine can ask for the strategy and XLA setting."""

    strategy: Any = None
    xla: bool = False
    seed: int = 42
    deterministic: bool = False
    precision: str = "float32"


_STATE = DeviceState()


def current() -> DeviceState:
    """The device state of this process (defaults when no run configured it)."""
    return _STATE


def get_strategy() -> tf.distribute.Strategy:
    """The configured ``tf.distribute`` strategy (TensorFlow's default one if none)."""
    return _STATE.strategy or tf.distribute.get_strategy()


def _check(settings: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = settings.get(key, default)
    if value is False:
        value = "off"
    if value not in allowed:
        raise ValueError(f"parameter 'device.{key}' must be one of {allowed}, got {value!r}")
    return value


def configure_device(settings: dict[str, Any] | None) -> DeviceState:
    """Apply ``settings`` (the ``device`` parameters) to TensorFlow and return the state."""
    global _STATE
    settings = dict(settings or {})
    accelerator = _check(settings, "accelerator", ACCELERATORS, "auto")
    precision = _check(settings, "mixed_precision", PRECISIONS, "off")
    strategy_name = _check(settings, "strategy", STRATEGIES, "default")
    cpu_devices = int(settings.get("cpu_logical_devices", 0) or 0)

    # Device visibility and thread pools can only change before TensorFlow initialises its
    # runtime; in a process that already ran TensorFlow (a notebook, a test) keep going.
    try:
        gpus = tf.config.list_physical_devices("GPU")
        if accelerator == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
            gpus = []
        if accelerator == "gpu" and not gpus:
            raise ValueError("parameter 'device.accelerator' is 'gpu' but TensorFlow sees no GPU")
        for gpu in gpus:
            if settings.get("memory_growth", True):
                tf.config.experimental.set_memory_growth(gpu, True)
        if cpu_devices > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
            )
        if settings.get("intra_op_threads"):
            tf.config.threading.set_intra_op_parallelism_threads(int(settings["intra_op_threads"]))
        if settings.get("inter_op_threads"):
            tf.config.threading.set_inter_op_parallelism_threads(int(settings["inter_op_threads"]))
    except RuntimeError as exc:
        logger.warning("Device settings left as they were (TensorFlow already initialised): %s", exc)
        gpus = tf.config.list_physical_devices("GPU")

    if precision in ("mixed_float16", "mixed_bfloat16") and not gpus:
        logger.warning(
            "device.mixed_precision=%s ignored: no GPU (mixed precision is slower on this CPU)",
            precision,
        )
        precision = "float32"
    keras.mixed_precision.set_global_policy("float32" if precision in ("off", "float32") else precision)

    seed = int(settings.get("seed", 42))
    keras.utils.set_random_seed(seed)
    deterministic = bool(settings.get("deterministic", False))
    if deterministic:
        tf.config.experimental.enable_op_determinism()

    if strategy_name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(
            devices=None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        )
    elif strategy_name == "multi_worker_mirrored":
        # The cluster comes from the TF_CONFIG environment variable, as TensorFlow documents.
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = None
    _STATE = DeviceState(
        strategy=strategy,
        xla=bool(settings.get("xla", False)),
        seed=seed,
        deterministic=deterministic,
        precision=precision if precision not in ("off",) else "float32",
    )
    logger.info(
        "TensorFlow %s: GPUs=%d, precision=%s, XLA=%s, strategy=%s (%d replicas), seed=%d%s",
        tf.__version__,
        len(gpus),
        _STATE.precision,
        _STATE.xla,
        strategy_name,
        get_strategy().num_replicas_in_sync,
        seed,
        ", deterministic" if deterministic else "",
    )
    return _STATE
