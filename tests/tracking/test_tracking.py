"""MLflow tracking: kedro-mlflow's hook and datasets, switched on by ``cifar100_kedro.tracking``.

Fast tests: the metric helpers; the switch (off without an ``mlflow.yml``, and then without
importing MLflow; a clear error when kedro-mlflow is missing); ``conf/mlflow`` against
kedro-mlflow's config model and against ``conf/base``'s catalog (same datasets, every report
file covered).

End to end (needs kedro-mlflow, skipped without it): in a temporary project copy the data
pipeline runs in ``test`` (no MLflow file may appear), then ``kedro run --env=mlflow_test
--namespaces=chavez_m1`` (``conf/test`` + ``conf/mlflow`` in one environment, as the docs tell
users) trains and reports one architecture, and the store is read back with MLflow's client:
parameters, per-epoch and final metrics, every report file as an artifact (byte for byte), the
logged Keras model (predictions equal the Kedro-saved model's).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader

from cifar100_kedro.tracking import (
    METRIC_KINDS,
    MlflowTrackingHooks,
    TrackingError,
    epoch_metrics,
    final_metrics,
    has_mlflow_yml,
)
from tests.conftest import copy_project, run_session

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF = PROJECT_ROOT / "conf"
MLFLOW_CATALOG = CONF / "mlflow" / "catalog_mlflow.yml"
ARTIFACT_DATASET = "kedro_mlflow.io.artifacts.MlflowArtifactDataset"
NAMESPACE = "chavez_m1"
MLFLOW_FILES = ("mlflow.db", "mlruns", "mlartifacts")
REPORT_FOLDERS = ("data/07_model_output/", "data/08_reporting/")
# Report files under REPORT_FOLDERS that the tracked run does not log, and why.
NOT_TRACKED = {
    "{namespace}.test_predictions": "prediction arrays (.npz, MBs per architecture)",
    "{namespace}.new_image_plots": "a folder that is absent without new images (CSV logged)",
}


# ----------------------------------------------------------------------------- helpers
def test_epoch_metrics_one_step_per_epoch() -> None:
    history = pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [2.0, 1.5],
            "val_accuracy": [0.1, np.nan],
            "note": ["a", "b"],
            "stopped": [False, True],
        }
    )
    assert epoch_metrics(history, "ns.history") == [
        ("ns.history.loss", 2.0, 1),
        ("ns.history.loss", 1.5, 2),
        ("ns.history.val_accuracy", 0.1, 1),
    ]
    assert epoch_metrics(pd.DataFrame({"loss": [1.0]}), "x") == []  # no epoch column
    assert epoch_metrics({"loss": 1.0}, "x") == []


def test_final_metrics_keep_numbers_only() -> None:
    data = {"accuracy": 0.5, "top_k": 5, "tta": True, "name": "m1", "f32": np.float32(0.25)}
    assert final_metrics(data, "ns.metrics") == [
        ("ns.metrics.accuracy", 0.5, 0),
        ("ns.metrics.top_k", 5.0, 0),
        ("ns.metrics.f32", 0.25, 0),
    ]
    assert final_metrics([1, 2], "x") == []


# ----------------------------------------------------------------------------- the switch
def context_for(conf: Path, env: str) -> SimpleNamespace:
    loader = OmegaConfigLoader(str(conf), env=env, base_env="base", default_run_env="local")
    return SimpleNamespace(config_loader=loader, env=env, project_path=conf.parent, params={})


def write_conf(root: Path) -> Path:
    """``base`` and ``plain`` without an mlflow.yml, ``tracked`` with the project's."""
    conf = root / "conf"
    for env in ("base", "plain", "tracked"):
        (conf / env).mkdir(parents=True)
    shutil.copy(CONF / "mlflow" / "mlflow.yml", conf / "tracked" / "mlflow.yml")
    return conf


def test_tracking_off_never_imports_mlflow(tmp_path: Path, monkeypatch) -> None:
    conf = write_conf(tmp_path)
    assert has_mlflow_yml(context_for(conf, "tracked"))
    # Any import of MLflow or kedro-mlflow now raises ImportError.
    for module in ("mlflow", "kedro_mlflow", "kedro_mlflow.framework.hooks"):
        monkeypatch.setitem(sys.modules, module, None)
    hooks = MlflowTrackingHooks()
    context = context_for(conf, "plain")
    assert not has_mlflow_yml(context)
    hooks.after_context_created(context)
    hooks.after_catalog_created(None, {"x": {"metadata": {"mlflow_metrics": "?"}}}, {}, {}, "", {})
    hooks.before_pipeline_run({}, None, None)
    hooks.before_node_run(None, None, {"params:device": {"seed": 1}}, False)
    hooks.after_dataset_saved("ns.history", pd.DataFrame({"epoch": [1], "loss": [1.0]}), None)
    hooks.after_pipeline_run({}, None, None)
    hooks.on_pipeline_error(RuntimeError(), {}, None, None)


def test_mlflow_yml_without_kedro_mlflow_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "kedro_mlflow", None)
    monkeypatch.setitem(sys.modules, "kedro_mlflow.framework.hooks", None)
    with pytest.raises(TrackingError, match=r"kedro-mlflow is not installed: pip install"):
        MlflowTrackingHooks().after_context_created(context_for(write_conf(tmp_path), "tracked"))


def test_settings_register_the_switch_and_disable_the_plugin_hook() -> None:
    from cifar100_kedro import settings
    from cifar100_kedro.hooks import DeviceHooks

    assert any(isinstance(hook, MlflowTrackingHooks) for hook in settings.HOOKS)
    assert any(isinstance(hook, DeviceHooks) for hook in settings.HOOKS)
    # Kedro compares the distribution's metadata name, which is "kedro_mlflow".
    assert "kedro_mlflow" in settings.DISABLE_HOOKS_FOR_PLUGINS


# ----------------------------------------------------------------------------- conf/mlflow
def test_mlflow_yml_is_valid_for_kedro_mlflow() -> None:
    config_module = pytest.importorskip("kedro_mlflow.config.kedro_mlflow_config")
    conf = yaml.safe_load((CONF / "mlflow" / "mlflow.yml").read_text())
    config = config_module.KedroMlflowConfig.model_validate(conf)
    assert config.server.mlflow_tracking_uri.startswith("sqlite:///")


def catalog_entries(*paths: Path) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    for path in paths:
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if not name.startswith("_"):
                entries[name] = entry
    return entries


def wrapped(entry: dict) -> dict:
    """The conf/base dataset an entry of catalog_mlflow.yml saves (its metadata left out)."""
    dataset = entry["dataset"] if entry["type"] == ARTIFACT_DATASET else entry
    return {key: value for key, value in dataset.items() if key != "metadata"}


def test_mlflow_catalog_keeps_every_base_dataset_as_it_is() -> None:
    base = catalog_entries(*sorted((CONF / "base").glob("catalog*.yml")))
    tracked = catalog_entries(MLFLOW_CATALOG)
    assert tracked
    for name, entry in tracked.items():
        assert name in base, f"catalog_mlflow.yml: '{name}' is no longer in conf/base"
        expected = {key: value for key, value in base[name].items() if key != "metadata"}
        assert wrapped(entry) == expected, (
            f"catalog_mlflow.yml: '{name}' differs from conf/base; copy the base entry again"
        )
        metadata = entry.get("metadata") or {}
        assert metadata.get("mlflow_metrics") in (None, *METRIC_KINDS), name
        if entry["type"] == ARTIFACT_DATASET:  # the data folder's layout
            folder = str(Path(entry["dataset"]["filepath"]).parent)
            assert entry["artifact_path"] == folder.removeprefix("data/"), name


def test_mlflow_catalog_covers_every_report_file() -> None:
    base = catalog_entries(*sorted((CONF / "base").glob("catalog*.yml")))
    tracked = catalog_entries(MLFLOW_CATALOG)
    reports = [
        name
        for name, entry in base.items()
        if str(entry.get("filepath", "")).startswith(REPORT_FOLDERS)
    ]
    missing = [name for name in reports if name not in tracked and name not in NOT_TRACKED]
    assert not missing, (
        f"report datasets not logged when tracking: {missing}; wrap them in "
        f"conf/mlflow/catalog_mlflow.yml (or add them to NOT_TRACKED with the reason)"
    )
    assert {"{namespace}.history", "{namespace}.metrics", "{namespace}.model"} <= set(tracked)


# ----------------------------------------------------------------------------- end to end
def kedro_run(project: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEDRO_ENV", "MLFLOW_"))}
    env.update(KEDRO_DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]


@pytest.fixture(scope="module")
def tracked_project(tmp_path_factory) -> Path:
    """Data processing without tracking, then one namespace tracked in ``mlflow_test``."""
    pytest.importorskip(
        "kedro_mlflow", reason="kedro-mlflow not installed: pip install -e '.[mlflow]'"
    )
    project = copy_project(tmp_path_factory.mktemp("tracking") / "project")
    combined = project / "conf" / "mlflow_test"
    combined.mkdir()
    for source in ("test", "mlflow"):
        for path in (project / "conf" / source).glob("*.yml"):
            assert not (combined / path.name).exists(), f"{path.name} in conf/test and conf/mlflow"
            shutil.copy(path, combined / path.name)

    run_session(project, ["data_processing"], env="test")
    leftovers = [name for name in MLFLOW_FILES if (project / name).exists()]
    assert not leftovers, f"a run without mlflow.yml wrote MLflow files: {leftovers}"

    # A real `kedro run` in its own process: kedro-mlflow sets MLflow's process-wide
    # tracking URI and experiment, which must not leak into other tests.
    kedro_run(project, "--env=mlflow_test", f"--namespaces={NAMESPACE}")
    return project


@pytest.fixture(scope="module")
def tracked_run(tracked_project: Path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tracked_project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cifar100_kedro")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return client, runs[0]


def flatten(data: dict, prefix: str) -> dict[str, str]:
    """kedro-mlflow's flattening of a parameter dict (``flatten: true``, ``sep: "."``)."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}.{key}"))
        else:
            flat[f"{prefix}.{key}"] = str(value)
    return flat


def test_run_is_finished_and_tagged(tracked_run) -> None:
    _, run = tracked_run
    assert run.info.status == "FINISHED"
    assert run.data.tags["env"] == "mlflow_test"
    assert NAMESPACE in run.data.tags["namespaces"]


def test_parameters_are_the_run_configuration(tracked_project: Path, tracked_run) -> None:
    _, run = tracked_run
    loader = OmegaConfigLoader(
        str(tracked_project / "conf"),
        env="mlflow_test",
        base_env="base",
        default_run_env="local",
        merge_strategy={"parameters": "soft"},
    )
    params = loader["parameters"]
    expected = {**flatten(params[NAMESPACE], NAMESPACE), **flatten(params["device"], "device")}
    logged = {k: v for k, v in run.data.params.items() if k.startswith((NAMESPACE, "device."))}
    assert any(key.startswith(f"{NAMESPACE}.") for key in logged), sorted(run.data.params)
    assert set(flatten(params["device"], "device")) <= set(logged)  # no node consumes device
    for key, value in logged.items():
        assert value == expected[key][:6000], key


def test_per_epoch_and_final_metrics(tracked_project: Path, tracked_run) -> None:
    client, run = tracked_run
    output = tracked_project / "data" / "07_model_output" / NAMESPACE
    history = pd.read_csv(output / "history.csv")
    columns = [c for c in history.select_dtypes("number").columns if c != "epoch"]
    assert "val_accuracy" in columns
    for column in columns:
        logged = client.get_metric_history(run.info.run_id, f"{NAMESPACE}.history.{column}")
        assert [m.step for m in logged] == history["epoch"].tolist(), column
        assert [m.value for m in logged] == pytest.approx(history[column].tolist()), column

    metrics = run.data.metrics
    reports = {
        "training_summary": output / "training_summary.json",
        "metrics": tracked_project / "data" / "08_reporting" / NAMESPACE / "metrics.json",
    }
    for dataset, path in reports.items():
        numbers = {
            k: v
            for k, v in json.loads(path.read_text()).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        assert numbers, path
        for key, value in numbers.items():
            assert metrics[f"{NAMESPACE}.{dataset}.{key}"] == pytest.approx(value), key


def test_report_files_are_artifacts(tracked_project: Path, tracked_run) -> None:
    client, run = tracked_run
    logged = []
    for entry in catalog_entries(MLFLOW_CATALOG).values():
        if entry["type"] != ARTIFACT_DATASET or "{namespace}" not in entry["artifact_path"]:
            continue
        local = tracked_project / entry["dataset"]["filepath"].replace("{namespace}", NAMESPACE)
        if not local.exists():  # a report this architecture has not (coarse labels, ...)
            continue
        artifact = f"{entry['artifact_path'].replace('{namespace}', NAMESPACE)}/{local.name}"
        copy = client.download_artifacts(run.info.run_id, artifact)
        assert Path(copy).read_bytes() == local.read_bytes(), artifact
        logged.append(local.name)
    assert {"history.csv", "metrics.json", "confusion_matrix.png"} <= set(logged), logged


def test_keras_model_is_logged_and_loads(tracked_project: Path, tracked_run) -> None:
    import mlflow

    from cifar100_kedro.datasets import KerasModelDataset

    _, run = tracked_run
    mlflow.set_tracking_uri(f"sqlite:///{tracked_project / 'mlflow.db'}")
    try:
        models = mlflow.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
            output_format="list",
        )
        assert [m.name for m in models] == [NAMESPACE]
        logged = mlflow.keras.load_model(models[0].model_uri)
        signature = mlflow.models.get_model_info(models[0].model_uri).signature
    finally:
        mlflow.set_tracking_uri(None)
    saved = KerasModelDataset(
        filepath=str(tracked_project / "data" / "06_models" / NAMESPACE / "model.keras")
    ).load()
    assert signature.inputs.inputs[0].shape == (-1, *saved.inputs[0].shape[1:])
    with np.load(tracked_project / "data" / "05_model_input" / "test.npz") as test:
        images = test["images"][:4]
    np.testing.assert_allclose(
        logged.predict(images, verbose=0), saved.predict(images, verbose=0), rtol=1e-5
    )


def test_pipeline_with_tracking_disabled_logs_nothing(tracked_project: Path, tracked_run) -> None:
    """``tracking.disable_tracking.pipelines`` in mlflow.yml: no run, not even a stray one that
    kedro-mlflow's artifact datasets would open for themselves."""
    client, run = tracked_run
    combined = tracked_project / "conf" / "mlflow_test"
    off = tracked_project / "conf" / "mlflow_test_off"
    shutil.copytree(combined, off)
    config = yaml.safe_load((off / "mlflow.yml").read_text())
    config["tracking"]["disable_tracking"]["pipelines"] = ["reporting"]
    (off / "mlflow.yml").write_text(yaml.safe_dump(config))
    plot = tracked_project / "data" / "08_reporting" / NAMESPACE / "training_curves.png"
    plot.unlink()

    kedro_run(
        tracked_project,
        "--env=mlflow_test_off",
        "--pipelines=reporting",
        f"--namespaces={NAMESPACE}",
        f"--to-outputs={NAMESPACE}.training_curves_plot",
    )
    assert plot.exists()  # the node ran
    runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in runs] == [run.info.run_id]
