"""MLflow tracking (``cifar100_kedro.tracking`` + kedro-mlflow, environment ``conf/mlflow``).

Unit tests of the pure helpers and of the on/off switch need no MLflow. The end-to-end test
needs kedro-mlflow (optional extra ``mlflow``; skipped without it): in a temporary copy of the
project it runs the data pipeline in the ``test`` environment (no tracking: nothing MLflow may
appear), then one architecture's training and reports in an environment made of ``conf/test``
+ ``conf/mlflow`` (as the README tells users to combine demo data with tracking), and reads the
run back from the local SQLite store: parameters, per-epoch and final metrics, report plots as
artifacts and the Keras model.
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

from cifar100_kedro import tracking
from cifar100_kedro.tracking import (
    DEFAULT_SETTINGS,
    MlflowTrackingHooks,
    TrackingError,
    epoch_metrics,
    flatten_numbers,
    tracking_settings,
)

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "chavez_m1"
MLFLOW_FILES = ("mlflow.db", "mlruns", "mlartifacts")


# ----------------------------------------------------------------------------- helpers
def test_settings_default_and_override() -> None:
    assert tracking_settings({}) == DEFAULT_SETTINGS
    settings = tracking_settings({"tracking": {"model_format": "file", "models": []}})
    assert settings["model_format"] == "file" and settings["models"] == []
    assert settings["epoch_metrics"] == DEFAULT_SETTINGS["epoch_metrics"]


@pytest.mark.parametrize(
    ("tracking_param", "message"),
    [
        ({"model_format": "onnx"}, "tracking.model_format"),
        ({"epoch_metrics": "*.history"}, "tracking.epoch_metrics"),
        ({"artefacts": []}, "unknown keys ['artefacts']"),
        ("on", "parameter 'tracking' must be a mapping"),
    ],
)
def test_settings_reject_bad_values(tracking_param, message) -> None:
    with pytest.raises(TrackingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        tracking_settings({"tracking": tracking_param})


def test_flatten_numbers_keeps_numbers_only() -> None:
    data = {
        "accuracy": 0.5,
        "top_k": 5,
        "ok": True,
        "name": "m1",
        "none": None,
        "per_class": {"apple": np.float32(0.25)},
        "curve": [1, 2],
    }
    assert flatten_numbers(data, "ns.metrics") == {
        "ns.metrics.accuracy": 0.5,
        "ns.metrics.top_k": 5.0,
        "ns.metrics.per_class.apple": 0.25,
        "ns.metrics.curve.0": 1.0,
        "ns.metrics.curve.1": 2.0,
    }


def test_epoch_metrics_one_step_per_epoch() -> None:
    history = pd.DataFrame(
        {"epoch": [1, 2], "loss": [2.0, 1.5], "val_accuracy": [0.1, np.nan], "note": ["a", "b"]}
    )
    assert epoch_metrics(history, "ns.history") == [
        ("ns.history.loss", 2.0, 1),
        ("ns.history.val_accuracy", 0.1, 1),
        ("ns.history.loss", 1.5, 2),
    ]
    assert epoch_metrics(pd.DataFrame({"loss": [1.0]}), "x") == []  # no epoch column
    assert epoch_metrics({"loss": 1.0}, "x") == []


def test_metric_keys_are_sanitised() -> None:
    # MLflow accepts letters, digits, "_", "-", ".", " " and "/" everywhere (":" not on Windows).
    assert tracking.metric_key("ns", "top-5 (%)", "a:b") == "ns.top-5 ___.a_b"


def context_for(conf: Path, env: str) -> SimpleNamespace:
    loader = OmegaConfigLoader(str(conf), env=env, base_env="base", default_run_env="local")
    return SimpleNamespace(config_loader=loader, env=env, project_path=conf.parent, params={})


def write_conf(root: Path, mlflow_yml: bool) -> Path:
    conf = root / "conf"
    for env in ("base", "plain", "tracked"):
        (conf / env).mkdir(parents=True, exist_ok=True)
    if mlflow_yml:
        shutil.copy(
            PROJECT_ROOT / "conf" / "mlflow" / "mlflow.yml", conf / "tracked" / "mlflow.yml"
        )
    return conf


def test_tracking_is_off_without_mlflow_yml(tmp_path: Path) -> None:
    hooks = MlflowTrackingHooks()
    hooks.after_context_created(context_for(write_conf(tmp_path, mlflow_yml=True), "plain"))
    assert not hooks.active
    # Every hook is then a no-op: no MLflow call, no catalog access.
    hooks.before_pipeline_run(run_params={}, pipeline=None, catalog=None)
    hooks.after_dataset_saved("ns.history", pd.DataFrame({"epoch": [1], "loss": [1.0]}), None)
    hooks.after_pipeline_run(run_params={}, pipeline=None, catalog=None)


def test_mlflow_yml_without_kedro_mlflow_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    # As if not installed (the submodule too, in case an earlier test imported it).
    monkeypatch.setitem(sys.modules, "kedro_mlflow", None)
    monkeypatch.setitem(sys.modules, "kedro_mlflow.framework.hooks.mlflow_hook", None)
    hooks = MlflowTrackingHooks()
    with pytest.raises(TrackingError, match=r"kedro-mlflow is not installed: pip install"):
        hooks.after_context_created(context_for(write_conf(tmp_path, mlflow_yml=True), "tracked"))


def test_mlflow_env_config_is_valid_for_kedro_mlflow() -> None:
    config_module = pytest.importorskip("kedro_mlflow.config.kedro_mlflow_config")
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "mlflow" / "mlflow.yml").read_text())
    config = config_module.KedroMlflowConfig.model_validate(conf)
    assert config.server.mlflow_tracking_uri.startswith("sqlite:///")
    params = yaml.safe_load(
        (PROJECT_ROOT / "conf" / "mlflow" / "parameters_tracking.yml").read_text()
    )
    assert tracking_settings(params)  # every key known, every value well typed


def test_settings_register_the_tracking_hooks() -> None:
    """kedro-mlflow's auto-registered hook is off; ours decides per environment."""
    from cifar100_kedro import settings

    assert any(isinstance(hook, MlflowTrackingHooks) for hook in settings.HOOKS)
    disabled = set(getattr(settings, "DISABLE_HOOKS_FOR_PLUGINS", ()))
    # pluggy compares the distribution's metadata name, which is "kedro_mlflow".
    assert "kedro_mlflow" in disabled, disabled


# ----------------------------------------------------------------------------- end to end
def kedro_run(project: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("KEDRO_ENV", "MLFLOW_TRACKING_URI")}
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
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"kedro run {' '.join(args)} failed:\n{output[-6000:]}"
    return output


@pytest.fixture(scope="module")
def tracked_project(tmp_path_factory) -> Path:
    """Data processing without tracking, then one namespace tracked in ``mlflow_test``."""
    pytest.importorskip(
        "kedro_mlflow", reason="kedro-mlflow not installed: pip install -e '.[mlflow]'"
    )
    project = tmp_path_factory.mktemp("tracking") / "project"
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "src").mkdir()
    # Test data + tracking: the two environments' files side by side in one environment.
    combined = project / "conf" / "mlflow_test"
    combined.mkdir()
    for source in ("test", "mlflow"):
        for path in (project / "conf" / source).glob("*.yml"):
            assert not (combined / path.name).exists(), (
                f"{path.name} is in conf/test and conf/mlflow"
            )
            shutil.copy(path, combined / path.name)

    kedro_run(project, "--env=test", "--pipelines=data_processing")
    leftovers = [name for name in MLFLOW_FILES if (project / name).exists()]
    assert not leftovers, f"a run without mlflow.yml wrote MLflow files: {leftovers}"

    kedro_run(project, "--env=mlflow_test", f"--namespaces={NAMESPACE}")
    return project


@pytest.fixture(scope="module")
def tracked_run(tracked_project: Path):
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tracked_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("cifar100_kedro")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    yield client, runs[0]
    mlflow.set_tracking_uri(previous)


def test_run_is_finished_and_tagged(tracked_run) -> None:
    _, run = tracked_run
    assert run.info.status == "FINISHED"
    assert run.data.tags["env"] == "mlflow_test"


def test_parameters_of_the_run(tracked_run) -> None:
    _, run = tracked_run
    recipes = yaml.safe_load(
        (PROJECT_ROOT / "conf" / "base" / "parameters_training.yml").read_text()
    )
    params = run.data.params
    assert params[f"{NAMESPACE}.train.batch_size"] == str(recipes[NAMESPACE]["train"]["batch_size"])
    assert params[f"{NAMESPACE}.model.builder"] == recipes[NAMESPACE]["model"]["builder"]
    assert params["training_run.max_epochs"] == "1"  # conf/test's override
    assert "device.seed" in params  # consumed by a hook, logged by ours


def test_per_epoch_and_final_metrics(tracked_run, tracked_project: Path) -> None:
    client, run = tracked_run
    history = pd.read_csv(tracked_project / "data" / "07_model_output" / NAMESPACE / "history.csv")
    logged = client.get_metric_history(run.info.run_id, f"{NAMESPACE}.history.val_accuracy")
    assert [m.step for m in logged] == history["epoch"].tolist()
    assert [m.value for m in logged] == pytest.approx(history["val_accuracy"].tolist())

    metrics = run.data.metrics
    assert metrics[f"{NAMESPACE}.training_summary.epochs_run"] == 1
    report = tracked_project / "data" / "08_reporting" / NAMESPACE / "metrics.json"
    if report.exists():  # the reporting pipeline's metrics: every number is logged
        expected = flatten_numbers(json.loads(report.read_text()), f"{NAMESPACE}.metrics")
        assert expected
        for key, value in expected.items():
            assert metrics[key] == pytest.approx(value), key


def test_report_plots_are_artifacts(tracked_run, tracked_project: Path) -> None:
    client, run = tracked_run
    folder = tracked_project / "data" / "08_reporting" / NAMESPACE
    plots = sorted(p.name for p in folder.glob("*.png"))
    assert plots, f"the run wrote no plot in {folder}"
    logged = {a.path for a in client.list_artifacts(run.info.run_id, f"08_reporting/{NAMESPACE}")}
    missing = [name for name in plots if f"08_reporting/{NAMESPACE}/{name}" not in logged]
    assert not missing, f"plots not logged: {missing}"
    local = client.download_artifacts(run.info.run_id, f"08_reporting/{NAMESPACE}/{plots[0]}")
    assert Path(local).read_bytes() == (folder / plots[0]).read_bytes()


def test_keras_model_is_logged_and_loads(tracked_run, tracked_project: Path) -> None:
    import keras
    import mlflow

    _, run = tracked_run
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert [m.name for m in models] == [NAMESPACE]
    logged = mlflow.keras.load_model(models[0].model_uri)
    saved = keras.saving.load_model(
        tracked_project / "data" / "06_models" / NAMESPACE / "model.keras"
    )
    with np.load(tracked_project / "data" / "05_model_input" / "test.npz") as test:
        images = test["images"][:4]
    np.testing.assert_allclose(
        logged.predict(images, verbose=0), saved.predict(images, verbose=0), rtol=1e-5
    )
