"""TensorFlow device settings from conf (the ``device`` parameters), passed explicitly.

Keys: ``accelerator`` (auto | cpu | gpu), ``memory_growth``, ``mixed_precision``
(off | mixed_float16 | mixed_bfloat16 | auto; see :func:`choose_precision`: bfloat16 runs on
GPUs and on CPUs with bfloat16 instructions, float16 on GPUs only; anything else is refused
naming the key),
``xla``, ``intra_op_threads`` / ``inter_op_threads`` (0 = TensorFlow's default), ``seed``,
``deterministic``, ``strategy`` (default | mirrored | multi_worker_mirrored) and
``cpu_logical_devices`` (split the CPU into N logical devices, to exercise ``mirrored`` on a
machine without GPUs) and ``data_autotune`` (tf.data's autotuner on the input pipelines;
off by default, see ``inputs.pipeline_options``).

Every training node takes ``params:device`` as an input and hands it to the engine, which
calls :func:`runtime`: a node called from a notebook or by another runner sees the same
settings as one under ``kedro run``. The run hook calls :func:`runtime` once before the
pipeline because thread pools and device visibility can only be set before TensorFlow
starts; after that the same settings give the same cached :class:`DeviceRuntime`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

ACCELERATORS = ("auto", "cpu", "gpu")
PRECISIONS = ("off", "float32", "mixed_float16", "mixed_bfloat16", "auto")
# x86 flags of CPUs with bfloat16 arithmetic (dot products / tiles) that oneDNN uses.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# GPUs from compute capability 8.0 (Ampere: A100, H100, ...) have bfloat16 tensor cores.
BF16_GPU_CAPABILITY = (8, 0)
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
    data_autotune: bool = False


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
        data_autotune=bool(settings.get("data_autotune", False)),
    )


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (the ``flags`` line of ``/proc/cpuinfo``; empty if none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no flags known, so no bfloat16 claimed
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_bf16(flags: Iterable[str]) -> bool:
    """Whether the CPU has bfloat16 instructions (``avx512_bf16`` or ``amx_bf16``)."""
    return not set(BF16_CPU_FLAGS).isdisjoint(flags)


def choose_precision(
    requested: str, gpu_capabilities: list[tuple[int, int]], cpu_bf16: bool, xla: bool = False
) -> str:
    """The Keras policy for ``device.mixed_precision`` on this hardware, or a ValueError.

    * ``off`` / ``float32``: float32.
    * ``mixed_float16``: GPUs only (a CPU has no float16 arithmetic units; TensorFlow emulates
      it, slowly).
    * ``mixed_bfloat16``: GPUs, and CPUs with ``avx512_bf16`` or ``amx_bf16`` (oneDNN then
      runs convolutions and matmuls in bfloat16); refused on other CPUs.
    * ``auto``: on GPUs, ``mixed_bfloat16`` from compute capability 8.0 (no loss scaling
      needed), else ``mixed_float16``. On a CPU with bfloat16 instructions and XLA off,
      ``mixed_bfloat16``: measured on a 2-core AMD EPYC with avx512_bf16
      (``benchmarks/device_variants.py``, docs/benchmarks.md) it needs 1.6-1.7× less CPU time
      per training image for ``resnet9_fast`` and ``khanna_vgg_cnn``. With XLA on a CPU,
      float32: XLA's CPU code generator does not use oneDNN's bfloat16 kernels, and
      bf16 + XLA needed as much CPU time as float32 + XLA (more than float32 without XLA).
      Other CPUs: float32.

    Args:
        requested: the ``device.mixed_precision`` value (one of ``PRECISIONS``).
        gpu_capabilities: the compute capability of each visible GPU (empty: CPU only).
        cpu_bf16: :func:`cpu_has_bf16` of this CPU.
        xla: ``device.xla`` (only ``auto`` on a CPU looks at it).
    """
    if requested in ("off", "float32"):
        return "float32"
    if requested == "auto":
        if not gpu_capabilities:
            return "mixed_bfloat16" if cpu_bf16 and not xla else "float32"
        bf16 = all(cap >= BF16_GPU_CAPABILITY for cap in gpu_capabilities)
        return "mixed_bfloat16" if bf16 else "mixed_float16"
    if gpu_capabilities:
        return requested
    if requested == "mixed_bfloat16" and cpu_bf16:
        return requested
    needs = (
        "a GPU, or a CPU with bfloat16 instructions (" + " or ".join(BF16_CPU_FLAGS) + ")"
        if requested == "mixed_bfloat16"
        else "a GPU (CPUs have no float16 arithmetic; try mixed_bfloat16 on a CPU with "
        + " or ".join(BF16_CPU_FLAGS)
        + ")"
    )
    raise ValueError(
        f"parameter 'device.mixed_precision' is {requested!r}, which needs {needs}; this "
        "machine has neither. Use 'off' (float32) or 'auto'."
    )


def _gpu_capabilities(gpus: list) -> list[tuple[int, int]]:
    """Compute capability of each GPU ((0, 0) where TensorFlow does not report one)."""
    capabilities = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


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
        precision = choose_precision(
            settings.mixed_precision,
            _gpu_capabilities(gpus),
            cpu_has_bf16(cpu_flags()),
            settings.xla,
        )
        cached = DeviceRuntime(settings, _make_strategy(settings.strategy, gpus), precision)
        _RUNTIMES[settings] = cached
        logger.info(
            "TensorFlow %s: GPUs=%d, precision=%s (asked: %s), XLA=%s, strategy=%s (%d replicas), "
            "seed=%d%s",
            tf.__version__, len(gpus), precision, settings.mixed_precision, settings.xla,
            settings.strategy, cached.strategy.num_replicas_in_sync, settings.seed,
            ", deterministic" if settings.deterministic else "",
        )  # fmt: skip
    keras.mixed_precision.set_global_policy(cached.precision)
    _set_op_determinism(settings.deterministic)
    return cached


def _set_op_determinism(enabled: bool) -> None:
    """Op determinism on or off for the whole process, whatever an earlier run asked.

    Off matters too: left on by a deterministic run earlier in the process, it makes Keras
    turn XLA off for every later model (``model_supports_jit``). TensorFlow exports only the
    switch on; the switch off lives in ``tensorflow.python.framework.config``.
    """
    from tensorflow.python.framework import config as tf_config

    if enabled:
        tf.config.experimental.enable_op_determinism()
    elif tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()


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
