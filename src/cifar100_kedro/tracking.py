"""MLflow tracking: kedro-mlflow's own hook and datasets, on only where conf has an ``mlflow.yml``.

kedro-mlflow does the tracking: its ``MlflowHook`` reads ``mlflow.yml`` (store, experiment),
opens one MLflow run per ``kedro run`` and logs every parameter a node consumes; its
``MlflowArtifactDataset`` entries in ``conf/mlflow/catalog_mlflow.yml`` log report files as
artifacts. This module adds two things:

- **The switch.** kedro-mlflow's hook registers itself on install and would track every run.
  ``settings.py`` turns that off (``DISABLE_HOOKS_FOR_PLUGINS``) and registers
  :class:`MlflowTrackingHooks`, which creates an ``MlflowHook`` and hands it Kedro's hook calls
  only when the run's environment has an ``mlflow.yml`` (``--env=mlflow``). Kedro has no public
  way to add a hook once the environment is known, hence the hand-over. Other runs touch no
  MLflow store and no code here imports MLflow for them (Kedro itself imports kedro-mlflow, and
  so MLflow, when it loads the installed plugins' hooks and commands).
- **Glue for what kedro-mlflow's datasets cannot take as the nodes write it**, chosen by a
  ``metadata`` entry in the catalog and logged through MLflow's public API:

  - ``mlflow_metrics: per_epoch``: a table with an ``epoch`` column, one metric per numeric
    column with ``step`` = epoch (``chavez_m1.history.val_accuracy``);
  - ``mlflow_metrics: final``: every number of a dict (``chavez_m1.metrics.accuracy``);
  - ``mlflow_model: NAME``: a Keras model as an MLflow logged model (Keras flavour, signature
    from the model's own shapes, a one-image input example), registered in the MLflow model
    registry as ``NAME`` (a new version per run; ``mlflow.pyfunc.load_model("models:/NAME/1")``
    loads it back). kedro-mlflow's model datasets would replace the ``.keras``
    file later runs read (MlflowModelTrackingDataset keeps the model in the run only);
  - the ``device`` parameters, which no node consumes, so kedro-mlflow would not log them;
  - each node input once per run: kedro-mlflow logs a node's parameters before every node, and
    ``params:reporting`` alone feeds about ten nodes per architecture.
"""

from __future__ import annotations

import importlib.metadata
import numbers
import re
import time
from collections.abc import Mapping
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

MLFLOW_CONFIG_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]  # kedro-mlflow's own
METRIC_KINDS = ("per_epoch", "final")


class TrackingError(RuntimeError):
    """Tracking was asked for but cannot work (kedro-mlflow missing, bad catalog metadata)."""


def has_mlflow_yml(context: Any) -> bool:
    """Whether the run's environment (or base) has a non-empty ``mlflow.yml``."""
    loader = context.config_loader
    loader.config_patterns.setdefault("mlflow", MLFLOW_CONFIG_PATTERNS)
    try:
        return bool(loader["mlflow"])
    except MissingConfigException:
        return False


def epoch_metrics(history: Any, prefix: str) -> list[tuple[str, float, int]]:
    """``(key, value, epoch)`` for every numeric value of a table with an ``epoch`` column."""
    import pandas as pd

    if not isinstance(history, pd.DataFrame) or "epoch" not in history.columns:
        return []
    return [
        (_metric_key(prefix, column), float(value), int(epoch))
        for column in history.columns.drop("epoch")
        if pd.api.types.is_numeric_dtype(history[column])
        and not pd.api.types.is_bool_dtype(history[column])
        for epoch, value in zip(history["epoch"], history[column])
        if pd.notna(value)
    ]


def final_metrics(data: Any, prefix: str) -> list[tuple[str, float, int]]:
    """``(key, value, 0)`` for every number (not bool) at the top level of a dict."""
    if not isinstance(data, Mapping):
        return []
    return [
        (_metric_key(prefix, key), float(value), 0)
        for key, value in data.items()
        if isinstance(value, numbers.Real) and not isinstance(value, bool)
    ]


def _metric_key(*parts: Any) -> str:
    return re.sub(r"[^\w./\- ]", "_", ".".join(str(p) for p in parts))


class MlflowTrackingHooks:
    """kedro-mlflow's ``MlflowHook`` where the environment has an ``mlflow.yml``, plus the glue
    above; every hook is a no-op elsewhere."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._hook: Any = None  # kedro-mlflow's MlflowHook while tracking is on
        self._catalog: Any = None
        self._device: Mapping[str, Any] = {}
        self._inputs_seen: set[str] = set()

    @hook_impl
    def after_context_created(self, context) -> None:
        self._reset()
        if not has_mlflow_yml(context):
            return
        try:
            from kedro_mlflow.framework.hooks import MlflowHook
        except ImportError:
            raise TrackingError(
                f"Environment '{context.env}' has an mlflow.yml (MLflow tracking) but kedro-mlflow "
                'is not installed: pip install -e ".[mlflow]" (or run without that environment)'
            ) from None
        self._hook = MlflowHook()
        self._hook.after_context_created(context=context)
        self._device = context.params.get("device") or {}

    @hook_impl
    def after_catalog_created(
        self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
    ) -> None:
        if self._hook is None:
            return
        for name, config in conf_catalog.items():
            kind = ((config or {}).get("metadata") or {}).get("mlflow_metrics")
            if kind not in (None, *METRIC_KINDS):
                raise TrackingError(
                    f"catalog entry '{name}': metadata.mlflow_metrics must be one of "
                    f"{METRIC_KINDS}, got {kind!r}"
                )
        self._hook.after_catalog_created(
            catalog=catalog,
            conf_catalog=conf_catalog,
            conf_creds=conf_creds,
            parameters=parameters,
            save_version=save_version,
            load_versions=load_versions,
        )

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if self._hook is None:
            return
        self._catalog = catalog
        # Materialise the dataset factories first: kedro-mlflow turns its datasets off for
        # `disable_tracking.pipelines` only in datasets that already exist (else they would
        # log to a new run of their own).
        for name in pipeline.datasets():
            catalog.get(name)
        self._hook.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
        if self._hook.run_id is not None and self._device:
            from mlflow import MlflowClient
            from mlflow.entities import Param

            params = [Param(_metric_key("device", k), str(v)) for k, v in self._device.items()]
            MlflowClient().log_batch(self._hook.run_id, params=params)

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        if self._hook is None:
            return
        new = {name: value for name, value in inputs.items() if name not in self._inputs_seen}
        self._inputs_seen.update(new)
        # Always called: kedro-mlflow also reopens its run here for the node's thread.
        self._hook.before_node_run(node=node, catalog=catalog, inputs=new, is_async=is_async)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        if self._hook is None or self._hook.run_id is None or self._catalog is None:
            return  # tracking off, or disabled for this pipeline in mlflow.yml
        metadata = getattr(self._catalog.get(dataset_name), "metadata", None) or {}
        kind = metadata.get("mlflow_metrics")
        if kind is not None:
            rows = (epoch_metrics if kind == "per_epoch" else final_metrics)(data, dataset_name)
            self._log_metrics(rows)
        if metadata.get("mlflow_model"):
            log_keras_model(data, re.sub(r"[/:.%\"']", "_", str(metadata["mlflow_model"])))

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if self._hook is not None:
            self._hook.after_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        if self._hook is not None:
            self._hook.on_pipeline_error(
                error=error, run_params=run_params, pipeline=pipeline, catalog=catalog
            )

    def _log_metrics(self, rows: list[tuple[str, float, int]]) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, step) for key, value, step in rows]
        for start in range(0, len(metrics), 1000):  # MLflow's limit per log_batch
            MlflowClient().log_batch(self._hook.run_id, metrics=metrics[start : start + 1000])


def log_keras_model(model: Any, name: str, register: bool = True) -> Any:
    """Log a Keras model to the active run as an MLflow model (Keras flavour) called ``name``,
    with its signature and a one-image input example, and (``register``) register it in the
    model registry under ``name``. Returns MLflow's ``ModelInfo``."""
    import mlflow
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    def spec(tensor) -> TensorSpec:
        shape = tuple(-1 if d is None else int(d) for d in tensor.shape)
        return TensorSpec(np.dtype(str(tensor.dtype)), shape, getattr(tensor, "name", None))

    # Pinned so that MLflow does not reload the model in a subprocess to infer them.
    pins = []
    for dist in ("keras", "tensorflow", "tensorflow-cpu"):
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    image = model.inputs[0]
    # A mid-grey image of the model's own input shape and dtype (uint8 32×32×3 here): what a
    # caller of the registered model sends, shown in the MLflow UI and checked on logging.
    example = np.full((1, *(int(d) for d in image.shape[1:])), 128, dtype=str(image.dtype))
    return mlflow.models.Model.log(
        artifact_path=None,  # MLflow 3 names logged models by `name`
        name=name,
        flavor=_keras_flavour(),
        model=model,
        signature=ModelSignature(
            inputs=Schema([spec(t) for t in model.inputs]),
            outputs=Schema([spec(t) for t in model.outputs]),
        ),
        input_example=example,
        pip_requirements=pins,
        registered_model_name=name if register else None,
    )


def _keras_flavour() -> Any:
    """``mlflow.keras`` whose ``save_model`` first creates the model folder.

    MLflow 3.17's ``mlflow.keras.save_model`` writes ``input_example.json`` before it creates
    the folder, so ``mlflow.keras.log_model(..., input_example=...)`` fails with
    FileNotFoundError (mlflow/mlflow#16183, open). ``Model.log`` takes any flavour module with
    a ``save_model``; this one is MLflow's own, called once the folder exists.
    """
    import os
    from types import SimpleNamespace

    import mlflow.keras

    def save_model(path: str, **kwargs: Any) -> Any:
        os.makedirs(path, exist_ok=True)
        return mlflow.keras.save_model(path=path, **kwargs)

    return SimpleNamespace(__name__="mlflow.keras", save_model=save_model)
