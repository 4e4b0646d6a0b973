"""MLflow experiment tracking through kedro-mlflow, on only in environments that ask for it.

kedro-viz dropped experiment tracking in 11.0 and its migration guide points to kedro-mlflow,
so tracking here is kedro-mlflow's: its ``mlflow.yml`` configures the tracking store and the
experiment, and its hook opens one MLflow run per ``kedro run`` and logs the parameters every
node consumes. kedro-mlflow is an optional extra (``pip install -e ".[mlflow]"``).

Two things need glue, which :class:`MlflowTrackingHooks` adds:

- *On only where configured.* kedro-mlflow registers its hook through an entry point as soon
  as it is installed and then tracks every run, falling back to a ``./mlruns`` file store
  (which recent MLflow 3 releases refuse: 3.17 raises unless
  ``MLFLOW_ALLOW_FILE_STORE=true``) when the environment has no ``mlflow.yml``. The project's
  ``settings.py`` disables that auto-registration (``DISABLE_HOOKS_FOR_PLUGINS``) and
  registers this class instead, which drives kedro-mlflow's hook only when the run's
  configuration environment has an ``mlflow.yml`` (``conf/mlflow/``). Every other run,
  the default one included, never imports MLflow and needs no tracking store.
- *What this project's datasets mean.* kedro-mlflow logs parameters; this class also logs,
  as the datasets are saved:

  - per-epoch metrics from each ``<namespace>.history`` table (one MLflow metric per
    column, ``step`` = epoch), e.g. ``chavez_m1.history.val_accuracy``;
  - final metrics: every number in ``<namespace>.training_summary`` and
    ``<namespace>.metrics`` (test accuracy, top-5, loss, coarse accuracy …), e.g.
    ``chavez_m1.metrics.accuracy``;
  - report files (plots, tables, JSON) saved under ``data/07_model_output`` and
    ``data/08_reporting`` as run artifacts, in the same folders as on disk;
  - each ``<namespace>.model`` as an MLflow Keras model (flavour ``keras``, input signature
    uint8 N×32×32×3), named after its namespace and linked to the run;
  - the ``device`` parameters (seed, precision, strategy), which no node consumes.

  Which datasets count as what is the ``tracking`` parameter
  (``conf/mlflow/parameters_tracking.yml``); :data:`DEFAULT_SETTINGS` are the defaults.

If ``settings.py`` still lets kedro-mlflow register its own hook, this class leaves the run
lifecycle and parameters to it and only adds the logging above, so nothing is logged twice.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.metadata
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

# Settings under the ``tracking`` parameter; an environment overrides single keys.
DEFAULT_SETTINGS: dict[str, Any] = {
    # DataFrames with an ``epoch`` column: every numeric column, one value per epoch.
    "epoch_metrics": ["*.history"],
    # JSON dicts: every number in them (nested keys joined with ".").
    "final_metrics": ["*.training_summary", "*.metrics"],
    # Files saved under these folders (relative to the project root) become run artifacts.
    "artifact_folders": ["data/07_model_output", "data/08_reporting"],
    "artifact_suffixes": [".png", ".csv", ".json", ".md", ".txt"],
    # Keras models: "keras" logs an MLflow model (Keras flavour), "file" only the saved
    # .keras file as an artifact, "none" nothing.
    "models": ["*.model"],
    "model_format": "keras",
    # Parameters no node consumes but that shape results.
    "extra_params": ["device"],
}
MODEL_FORMATS = ("keras", "file", "none")
MLFLOW_CONFIG_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]
_METRIC_KEY_FORBIDDEN = re.compile(r"[^\w./\- ]")
_BATCH = 1000  # MLflow's limit of metrics per log_batch call


class TrackingError(ValueError):
    """Tracking was asked for but cannot work (kedro-mlflow missing, bad ``tracking`` settings)."""


# ----------------------------------------------------------------------------- pure helpers
def tracking_settings(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``DEFAULT_SETTINGS`` updated with the ``tracking`` parameter, checked.

    Raises :class:`TrackingError` naming the parameter when a value has the wrong type.
    """
    overrides = (params or {}).get("tracking") or {}
    if not isinstance(overrides, Mapping):
        raise TrackingError(
            f"parameter 'tracking' must be a mapping, got {type(overrides).__name__}"
        )
    unknown = sorted(set(overrides) - set(DEFAULT_SETTINGS))
    if unknown:
        raise TrackingError(
            f"parameter 'tracking' has unknown keys {unknown}; known: {sorted(DEFAULT_SETTINGS)}"
        )
    settings = {**DEFAULT_SETTINGS, **overrides}
    for key, value in settings.items():
        if key == "model_format":
            if value not in MODEL_FORMATS:
                raise TrackingError(
                    f"parameter 'tracking.model_format' must be one of {MODEL_FORMATS}, "
                    f"got {value!r}"
                )
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TrackingError(
                f"parameter 'tracking.{key}' must be a list of strings, got {value!r}"
            )
    return settings


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether dataset ``name`` matches any shell-style pattern (``*.history``)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def metric_key(*parts: Any) -> str:
    """An MLflow metric/param key: parts joined with ".", characters MLflow rejects → "_"."""
    return _METRIC_KEY_FORBIDDEN.sub("_", ".".join(str(p) for p in parts))


def flatten_numbers(data: Any, prefix: str) -> dict[str, float]:
    """Every number in a nested dict/list as ``{"prefix.key.subkey": value}``.

    Booleans, strings and ``None`` are left out (they are not metrics); list items are keyed
    by their index.
    """
    if isinstance(data, bool) or data is None:
        return {}
    if isinstance(data, (int, float)):
        return {prefix: float(data)}
    if hasattr(data, "item") and getattr(data, "shape", None) == ():  # numpy scalars
        return flatten_numbers(data.item(), prefix)
    items: Iterable[tuple[Any, Any]]
    if isinstance(data, Mapping):
        items = data.items()
    elif isinstance(data, (list, tuple)):
        items = enumerate(data)
    else:
        return {}
    flat: dict[str, float] = {}
    for key, value in items:
        flat.update(flatten_numbers(value, metric_key(prefix, key)))
    return flat


def flatten_params(data: Any, prefix: str) -> dict[str, str]:
    """A nested parameter dict as ``{"prefix.key.subkey": "value"}`` (lists stay whole)."""
    if not isinstance(data, Mapping):
        return {prefix: str(data)}
    flat: dict[str, str] = {}
    for key, value in data.items():
        flat.update(flatten_params(value, metric_key(prefix, key)))
    return flat


def epoch_metrics(history: Any, prefix: str) -> list[tuple[str, float, int]]:
    """``(key, value, epoch)`` for every numeric column of a per-epoch history table.

    ``history`` is a DataFrame with an ``epoch`` column (the training engine's
    ``<namespace>.history``); rows with a missing value in a column are skipped for that
    column.
    """
    import pandas as pd

    if not isinstance(history, pd.DataFrame) or "epoch" not in history.columns:
        return []
    rows = []
    numeric = [
        c for c in history.columns if c != "epoch" and pd.api.types.is_numeric_dtype(history[c])
    ]
    for _, row in history.iterrows():
        epoch = int(row["epoch"])
        for column in numeric:
            value = float(row[column])
            if not math.isnan(value):
                rows.append((metric_key(prefix, column), value, epoch))
    return rows


def local_path_of(dataset: Any) -> Path | None:
    """The local file or folder a Kedro dataset writes to, or ``None`` (remote, in memory)."""
    protocol = getattr(dataset, "_protocol", None)
    if protocol not in (None, "file", "local"):
        return None
    path = getattr(dataset, "_filepath", None) or getattr(dataset, "_path", None)
    if path is None:
        return None
    get_save_path = getattr(dataset, "_get_save_path", None)
    if getattr(dataset, "_version", None) is not None and get_save_path is not None:
        # A versioned dataset writes below <filepath>/<version>/; without a resolvable
        # version the base path is the best guess.
        with contextlib.suppress(Exception):
            path = get_save_path()
    return Path(str(path))


def artifact_files(path: Path, suffixes: Iterable[str]) -> list[Path]:
    """``path`` itself if it is a file with one of ``suffixes``, or such files below a folder."""
    suffixes = {s.lower() for s in suffixes}
    if path.is_file():
        return [path] if path.suffix.lower() in suffixes else []
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    return []


def pip_requirements() -> list[str]:
    """Pinned requirements of a saved Keras model: Keras and the installed TensorFlow wheel.

    Given explicitly so MLflow does not infer them by reloading the model in a subprocess.
    """
    pins = []
    for dist in ("keras", "tensorflow", "tensorflow-cpu"):
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def mlflow_config_of(context: Any) -> dict[str, Any]:
    """The environment's ``mlflow.yml`` as a dict; ``{}`` when there is none (tracking off)."""
    loader = context.config_loader
    if "mlflow" not in loader.config_patterns:
        loader.config_patterns.update({"mlflow": MLFLOW_CONFIG_PATTERNS})
    try:
        return dict(loader["mlflow"] or {})
    except MissingConfigException:
        return {}


# ----------------------------------------------------------------------------- the hooks
class MlflowTrackingHooks:
    """Track a run in MLflow when its environment has an ``mlflow.yml``; otherwise do nothing.

    See the module docstring for what is logged. Register it in ``settings.py`` together with
    ``DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")``.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.active = False
        self._kedro_mlflow_hook: Any = None  # kedro-mlflow's MlflowHook, ours or the plugin's
        self._owns_lifecycle = False  # True: this class drives kedro-mlflow's hook itself
        self._catalog: Any = None
        self._settings: dict[str, Any] = dict(DEFAULT_SETTINGS)
        # Kedro makes catalog paths absolute against the project root, not the working folder.
        self._project_path = Path.cwd()

    # -- kedro-mlflow's hook: found among the registered plugins or created here
    @hook_impl
    def after_context_created(self, context) -> None:
        self._reset()
        if not mlflow_config_of(context):
            logger.debug("No mlflow.yml in environment '%s': MLflow tracking is off", context.env)
            return
        try:
            from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
        except ImportError:
            raise TrackingError(
                f"Environment '{context.env}' has an mlflow.yml (MLflow tracking) but kedro-mlflow "
                'is not installed: pip install -e ".[mlflow]" (or run without that environment)'
            ) from None
        self.active = True
        self._project_path = Path(context.project_path)
        self._settings = tracking_settings(context.params)
        plugins = [p for p in context._hook_manager.get_plugins() if isinstance(p, MlflowHook)]
        if plugins:
            # settings.py left kedro-mlflow's entry-point hook on: it runs itself.
            self._kedro_mlflow_hook = plugins[0]
            return
        self._kedro_mlflow_hook = MlflowHook()
        self._owns_lifecycle = True
        _log_each_param_once(self._kedro_mlflow_hook)
        self._kedro_mlflow_hook.after_context_created(context=context)
        logger.info(
            "MLflow tracking on (environment '%s'): %s, experiment '%s'",
            context.env,
            self._kedro_mlflow_hook.mlflow_config.server.mlflow_tracking_uri,
            self._kedro_mlflow_hook.mlflow_config.tracking.experiment.name,
        )

    @hook_impl
    def after_catalog_created(
        self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
    ) -> None:
        if not self.active:
            return
        self._catalog = catalog
        if self._owns_lifecycle:
            self._kedro_mlflow_hook.after_catalog_created(
                catalog=catalog,
                conf_catalog=conf_catalog,
                conf_creds=conf_creds,
                parameters=parameters,
                save_version=save_version,
                load_versions=load_versions,
            )

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if not self.active:
            return
        self._catalog = catalog
        if self._owns_lifecycle:
            self._kedro_mlflow_hook.before_pipeline_run(
                run_params=run_params, pipeline=pipeline, catalog=catalog
            )
        if self._run_id() is None:
            return  # kedro-mlflow's disable_tracking covers this pipeline
        params = catalog.load("parameters") if "parameters" in catalog else {}
        extra = {}
        for name in self._settings["extra_params"]:
            if name in params:
                extra.update(flatten_params(params[name], name))
        self._client().log_batch(self._run_id(), params=[_param(k, v) for k, v in extra.items()])

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        if self.active and self._owns_lifecycle:
            self._kedro_mlflow_hook.before_node_run(
                node=node, catalog=catalog, inputs=inputs, is_async=is_async
            )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        if not self.active or self._run_id() is None:
            return
        settings = self._settings
        if matches(dataset_name, settings["epoch_metrics"]):
            self._log_metrics(epoch_metrics(data, dataset_name))
        if matches(dataset_name, settings["final_metrics"]):
            self._log_metrics([(k, v, 0) for k, v in flatten_numbers(data, dataset_name).items()])
        if matches(dataset_name, settings["models"]) and settings["model_format"] != "none":
            self._log_model(dataset_name, data)
        self._log_artifacts(dataset_name)

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if self.active and self._owns_lifecycle:
            self._kedro_mlflow_hook.after_pipeline_run(
                run_params=run_params, pipeline=pipeline, catalog=catalog
            )

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        if self.active and self._owns_lifecycle:
            self._kedro_mlflow_hook.on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )

    # -- logging
    def _run_id(self) -> str | None:
        return getattr(self._kedro_mlflow_hook, "run_id", None)

    def _client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient()

    def _log_metrics(self, rows: list[tuple[str, float, int]]) -> None:
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        metrics = [Metric(key, value, timestamp, step) for key, value, step in rows]
        for start in range(0, len(metrics), _BATCH):
            self._client().log_batch(self._run_id(), metrics=metrics[start : start + _BATCH])

    def _dataset_path(self, dataset_name: str) -> Path | None:
        if self._catalog is None:
            return None
        try:
            dataset = self._catalog.get(dataset_name)
        except Exception:  # noqa: BLE001  (not a catalog dataset: nothing on disk to log)
            return None
        path = local_path_of(dataset)
        if path is None:
            return None
        return path if path.is_absolute() else self._project_path / path

    def _log_artifacts(self, dataset_name: str) -> None:
        path = self._dataset_path(dataset_name)
        if path is None:
            return
        for folder in self._settings["artifact_folders"]:
            root = Path(folder) if Path(folder).is_absolute() else self._project_path / folder
            try:
                path.resolve().relative_to(root.resolve())
            except ValueError:
                continue
            for file in artifact_files(path, self._settings["artifact_suffixes"]):
                relative = file.resolve().relative_to(root.resolve().parent)
                self._client().log_artifact(
                    self._run_id(),
                    str(file),
                    artifact_path=str(PurePosixPath(*relative.parent.parts)),
                )
            return

    def _log_model(self, dataset_name: str, model: Any) -> None:
        try:
            import keras
        except ImportError:  # pragma: no cover  (the project depends on Keras)
            return
        if not isinstance(model, keras.Model):
            return
        name = metric_key(dataset_name.removesuffix(".model")).replace(".", "_").replace("/", "_")
        if self._settings["model_format"] == "file":
            path = self._dataset_path(dataset_name)
            if path is not None and path.is_file():
                self._client().log_artifact(
                    self._run_id(), str(path), artifact_path=f"models/{name}"
                )
            return
        import mlflow

        active = mlflow.active_run()
        if active is None or active.info.run_id != self._run_id():
            mlflow.start_run(run_id=self._run_id(), nested=active is not None)
        mlflow.keras.log_model(
            model,
            name=name,
            signature=_keras_signature(model),
            pip_requirements=pip_requirements(),
            tags={"kedro_dataset": dataset_name},
        )
        logger.info("MLflow: logged Keras model '%s' (%s)", name, dataset_name)


def _param(key: str, value: str):
    from mlflow.entities import Param
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    return Param(key, value[:MAX_PARAM_VAL_LENGTH])


def _keras_signature(model: Any):
    """Input/output tensor specs from the model's own shapes (no prediction needed)."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    def spec(tensor) -> TensorSpec:
        shape = tuple(-1 if d is None else int(d) for d in tensor.shape)
        return TensorSpec(np.dtype(str(tensor.dtype)), shape, getattr(tensor, "name", None))

    return ModelSignature(
        inputs=Schema([spec(t) for t in model.inputs]),
        outputs=Schema([spec(t) for t in model.outputs]),
    )


def _log_each_param_once(hook: Any) -> None:
    """Make kedro-mlflow log each parameter once per run, not before every node using it.

    kedro-mlflow logs a node's parameters before each node runs; ``params:reporting`` alone
    feeds about ten nodes per architecture, which is thousands of identical writes.
    """
    log_param = getattr(hook, "_log_param", None)
    if log_param is None:  # a kedro-mlflow without this method: leave it as it is
        return
    logged: dict[str, str] = {}

    def log_param_once(name: str, value: Any) -> None:
        if logged.get(name) == str(value):
            return
        log_param(name, value)
        logged[name] = str(value)

    hook._log_param = log_param_once


__all__ = [
    "DEFAULT_SETTINGS",
    "MlflowTrackingHooks",
    "TrackingError",
    "epoch_metrics",
    "flatten_numbers",
    "tracking_settings",
]
