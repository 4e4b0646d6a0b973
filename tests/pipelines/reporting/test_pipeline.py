"""The reporting pipeline's structure, and an end-to-end run through a KedroSession.

The end-to-end test does not train anything: it writes, for every architecture namespace, a
tiny Keras model (uint8 images in, softmax out), a history and a training summary exactly as
the training pipeline would, plus a small test split with the real 100 CIFAR-100 class names,
then runs ``kedro run --pipeline=reporting --env=test`` on that temporary project.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro import architectures
from cifar100_kedro.architectures import Architecture, ReportedFigure
from cifar100_kedro.pipelines.reporting import (
    create_comparison_pipeline,
    create_evaluation_pipeline,
    create_pipeline,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# What the reporting pipeline evaluates itself, and what it compares (the registry's order).
TRAINED = [a.namespace for a in architectures.compared(["training"])]
COMPARED = [a.namespace for a in architectures.compared()]
OTHERS = [ns for ns in COMPARED if ns not in TRAINED]
PER_ARCHITECTURE_OUTPUTS = {
    "test_predictions",
    "metrics",
    "confusion_matrix",
    "confusion_matrix_plot",
    "coarse_confusion_matrix",
    "coarse_confusion_matrix_plot",
    "classification_report",
    "best_worst_classes",
    "best_worst_classes_plot",
    "training_curves_plot",
    "prediction_grid_plot",
    "new_image_plots",
    "new_image_predictions",
}


def test_every_node_named_and_every_architecture_evaluated():
    pipeline = create_pipeline()
    names = [n.name for n in pipeline.nodes]
    assert len(names) == len(set(names))
    assert "chavez_m7" in OTHERS and "fish_subset" not in COMPARED
    for ns in TRAINED:
        assert {f"{ns}.{o}" for o in PER_ARCHITECTURE_OUTPUTS} <= pipeline.all_outputs()
        assert {f"{ns}.model", f"{ns}.history", f"{ns}.training_summary"} <= pipeline.inputs()
        assert f"{ns}.predict_test_set" in names
    for ns in OTHERS:  # evaluated by their own pipeline, read here if present
        assert f"{ns}.predict_test_set" not in names
        assert {f"{ns}.metrics_if_present", f"{ns}.test_predictions_if_present"} <= (
            pipeline.inputs()
        )
    collect = next(n for n in pipeline.nodes if n.name == "collect_model_metrics")
    assert [i.split(".")[0] for i in collect.inputs] == COMPARED
    assert {"test_split", "label_names", "new_images"} <= pipeline.inputs()
    assert {
        "model_comparison_table",
        "mcnemar_fine_heatmap",
        "chavez_progression_plot",
    } <= pipeline.all_outputs()


def test_evaluation_template_is_reusable_for_another_namespace():
    pipeline = create_evaluation_pipeline(
        "fish_vgg16", test_split="fish_test_split", label_names="fish_label_names", coarse=False
    )
    assert {
        "fish_test_split",
        "fish_label_names",
        "fish_vgg16.model",
        "params:reporting",
    } <= pipeline.inputs()
    assert "fish_vgg16.metrics" in pipeline.all_outputs()
    assert "fish_vgg16.coarse_confusion_matrix_plot" not in pipeline.all_outputs()


def test_comparison_inputs_follow_the_given_namespaces():
    pipeline = create_comparison_pipeline(["a", "m7", "b"], optional=["m7"])
    collect = next(n for n in pipeline.nodes if n.name == "collect_model_metrics")
    assert collect.inputs == ["a.metrics", "m7.metrics_if_present", "b.metrics"]
    predictions = next(n for n in pipeline.nodes if n.name == "collect_test_predictions")
    assert predictions.inputs == [
        "test_split",
        "a.test_predictions",
        "m7.test_predictions_if_present",
        "b.test_predictions",
    ]
    with pytest.raises(ValueError, match="reserved"):
        create_comparison_pipeline(["test_split"])


@pytest.fixture
def toy_architecture():
    """A registered architecture with reported figures (removed from the registry afterwards)."""
    arch = architectures.register(
        Architecture(
            "toy_registered_net",
            "999 Toy et al.",
            "toy",
            reported=(
                ReportedFigure("accuracy", 42.5, "test", "Table 9", "on the full test set"),
                ReportedFigure("loss", 2.25, "test", "Table 9"),
            ),
        )
    )
    yield arch
    architectures.unregister(arch.namespace)


def test_registered_reported_figures_appear_in_the_comparison(toy_architecture):
    ns = toy_architecture.namespace
    pipeline = create_pipeline()
    assert f"{ns}.predict_test_set" in {n.name for n in pipeline.nodes}  # trained → evaluated
    metrics = {"label_mode": "fine", "top_k": 5, "accuracy": 0.4, "top_k_accuracy": 0.7}
    nodes = {n.name: n for n in pipeline.nodes}
    collected = nodes["collect_model_metrics"].run(
        {i: (metrics if i.startswith(ns) else None) for i in nodes["collect_model_metrics"].inputs}
        | {"khanna_vgg_cnn.metrics": dict(metrics, accuracy=0.5)}
    )["all_model_metrics"]
    table = nodes["build_model_comparison_table"].run(
        {"all_model_metrics": collected, "seed_summary_table": None}
    )[
        "model_comparison_table"
    ]
    row = table.set_index("model").loc[ns]
    assert row["paper"] == "999 Toy et al." and row["reported on [paper]"] == "test"
    assert row["reported accuracy (%) [paper]"] == pytest.approx(42.5)
    assert row["reported loss [paper]"] == pytest.approx(2.25)
    assert "Table 9: on the full test set" in row["reported note [paper]"]
    khanna = table.set_index("model").loc["khanna_vgg_cnn"]
    assert khanna["reported accuracy (%) [paper]"] == pytest.approx(59.09)  # test, not validation
    markdown = nodes["write_model_comparison_markdown"].run({"model_comparison_table": table})
    text = markdown["model_comparison_markdown"]
    assert "42.50" in text and "nan" not in text.lower()


def test_catalog_patterns_resolve_every_reporting_dataset():
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(loader["catalog"])
    for output in sorted(create_pipeline().all_outputs()):
        if output in {"all_test_predictions"}:
            continue  # handed over in memory
        dataset = catalog.get(output)
        assert type(dataset).__name__ != "MemoryDataset", output
    assert type(catalog.get("rana_elu_cnn.metrics")).__name__ == "JSONDataset"
    assert type(catalog.get("rana_elu_cnn.confusion_matrix_plot")).__name__ == "MatplotlibDataset"
    assert type(catalog.get("rana_elu_cnn.classification_report")).__name__ == "CSVDataset"
    assert type(catalog.get("rana_elu_cnn.test_predictions")).__name__ == "NumpyDataset"
    for ns in OTHERS:
        for name in (f"{ns}.metrics_if_present", f"{ns}.test_predictions_if_present"):
            dataset = catalog.get(name)
            assert type(dataset).__name__ == "OptionalDataset" and ns in str(dataset)
            assert dataset.exists()  # absent files load as None, never fail the run


# ---------------------------------------------------------------------------- end to end
def _tiny_model(num_classes: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(keras.ops.cast(inputs, "float32"))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _write_fake_training_outputs(project: Path, namespaces, per_class: int = 2) -> None:
    from kedro_datasets.tensorflow import TensorFlowModelDataset

    from cifar100_kedro.data.labels import COARSE_LABEL_NAMES, FINE_LABEL_NAMES, FINE_TO_COARSE
    from cifar100_kedro.datasets import NumpyDataset

    rng = np.random.default_rng(0)
    fine = np.repeat(np.arange(100), per_class).astype(np.int64)
    rng.shuffle(fine)
    data = project / "data"
    NumpyDataset(str(data / "05_model_input/test.npz")).save(
        {
            "images": rng.integers(0, 256, (len(fine), 32, 32, 3), dtype=np.uint8),
            "fine": fine,
            "coarse": FINE_TO_COARSE[fine],
        }
    )
    (data / "02_intermediate").mkdir(parents=True, exist_ok=True)
    (data / "02_intermediate/label_names.json").write_text(
        json.dumps(
            {
                "fine": list(FINE_LABEL_NAMES),
                "coarse": list(COARSE_LABEL_NAMES),
                "fine_to_coarse": FINE_TO_COARSE.tolist(),
            }
        )
    )
    for seed, ns in enumerate(namespaces):
        mode = "coarse" if ns.endswith("_coarse") else "fine"
        classes = 20 if mode == "coarse" else 100
        model = _tiny_model(classes, seed)
        TensorFlowModelDataset(filepath=str(data / f"06_models/{ns}/model.keras")).save(model)
        out = data / f"07_model_output/{ns}"
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "epoch": [1, 2, 3],
                "loss": [4.6, 4.5, 4.4],
                "accuracy": [0.01, 0.02, 0.03],
                "val_loss": [4.61, 4.55, 4.58],
                "val_accuracy": [0.01, 0.02, 0.015],
                "learning_rate": [1e-3] * 3,
                "seconds": [1.0, 1.1, 1.0],
            }
        ).to_csv(out / "history.csv", index=False)
        # The engine's summary names the namespace; older summaries call it "architecture".
        name_key = "architecture" if seed % 2 else "namespace"
        (out / "training_summary.json").write_text(
            json.dumps(
                {
                    name_key: ns,
                    "builder": "tiny",
                    "label_mode": mode,
                    "num_classes": classes,
                    "epochs_requested": 3,
                    "epochs_run": 3,
                    "best_epoch": 2,
                    "training_seconds": 3.1 + seed,
                    "trainable_params": model.count_params(),
                    "total_params": model.count_params(),
                    "batch_size": 8,
                }
            )
        )


def _run(project: Path, runtime_params=None, tags=None):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        with KedroSession.create(
            project_path=project, env="test", runtime_params=runtime_params
        ) as session:
            return session.run(pipeline_names=["reporting"], tags=tags)
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def reported_project(tmp_path_factory):
    """A temporary project with fake training outputs on which the reporting pipeline ran."""
    from PIL import Image

    root = tmp_path_factory.mktemp("reporting_e2e")
    project = root / "project"
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "src").mkdir()  # the package itself is installed; bootstrap only needs the folder
    _write_fake_training_outputs(project, TRAINED)
    images = root / "my new images"
    images.mkdir()
    Image.new("RGB", (300, 200), (240, 200, 10)).save(images / "yellow.jpg")
    Image.new("RGBA", (20, 64), (0, 80, 200, 255)).save(images / "blue.png")
    (images / "broken.png").write_bytes(b"not a png")
    _run(project, runtime_params={"new_images_folder": str(images)})
    return project, TRAINED


@pytest.mark.slow
def test_reporting_end_to_end(reported_project, caplog):
    project, namespaces = reported_project
    reports = project / "data/08_reporting"
    for ns in namespaces:
        folder = reports / ns
        for name in (
            "metrics.json",
            "confusion_matrix.csv",
            "confusion_matrix.png",
            "coarse_confusion_matrix.csv",
            "coarse_confusion_matrix.png",
            "classification_report.csv",
            "best_worst_classes.csv",
            "best_worst_classes.png",
            "training_curves.png",
            "prediction_grid.png",
            "new_images_top_k.csv",
        ):
            assert (folder / name).is_file(), f"{ns}/{name}"
        assert sorted(p.name for p in (folder / "new_images").iterdir()) == [
            "blue.png.png",
            "yellow.jpg.png",
        ]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["namespace"] == ns and "architecture" not in metrics
        assert metrics["test_samples"] == 200 and metrics["best_epoch"] == 2
        assert 0.0 <= metrics["coarse_accuracy"] <= 1.0
        if ns.endswith("_coarse"):
            assert metrics["accuracy"] is None and metrics["num_classes"] == 20
        else:
            assert 0.0 <= metrics["accuracy"] <= metrics["top_k_accuracy"] <= 1.0
        assert (project / f"data/07_model_output/{ns}/test_predictions.npz").is_file()
    confusion = pd.read_csv(reports / "khanna_vgg_cnn/confusion_matrix.csv")
    assert confusion.shape == (100, 101) and confusion.iloc[:, 1:].to_numpy().sum() == 200

    comparison = reports / "comparison"
    table = pd.read_csv(comparison / "model_comparison.csv")
    assert set(table["model"]) == set(namespaces)
    assert "reported accuracy (%) [paper]" in table.columns
    assert table.set_index("model").loc[
        "khanna_vgg_cnn", "reported accuracy (%) [paper]"
    ] == pytest.approx(59.09)
    markdown = (comparison / "model_comparison.md").read_text()
    assert "| rank |" in markdown and "nan" not in markdown.lower()
    fine_models = [ns for ns in namespaces if not ns.endswith("_coarse")]
    mcnemar = pd.read_csv(comparison / "mcnemar_fine.csv")
    assert len(mcnemar) == len(fine_models) * (len(fine_models) - 1) // 2
    assert (mcnemar["p_value_holm"] >= mcnemar["p_value"]).all()
    assert (
        len(pd.read_csv(comparison / "mcnemar_coarse.csv"))
        == len(namespaces) * (len(namespaces) - 1) // 2
    )
    progression = pd.read_csv(comparison / "chavez_progression.csv")
    assert progression["stage"].tolist() == [f"M{i}" for i in range(1, 8)]
    assert progression["status"].tolist() == ["evaluated"] * 6 + ["not evaluated"]
    assert progression.loc[6, "reported fine accuracy (%) [paper]"] == pytest.approx(59.5)
    for name in (
        "model_comparison.png",
        "mcnemar_fine.png",
        "mcnemar_coarse.png",
        "chavez_progression.png",
    ):
        assert (comparison / name).is_file()


@pytest.mark.slow
def test_m7_joins_the_comparison_when_its_results_exist(reported_project):
    project, _ = reported_project
    data = project / "data"
    # Stand-in for hyperparameter_search having evaluated M7 with create_evaluation_pipeline.
    for source, target in (("chavez_m6", "chavez_m7"), ("chavez_m1_coarse", "chavez_m7_coarse")):
        (data / f"08_reporting/{target}").mkdir(parents=True, exist_ok=True)
        metrics = json.loads((data / f"08_reporting/{source}/metrics.json").read_text())
        metrics.update(namespace=target)
        (data / f"08_reporting/{target}/metrics.json").write_text(json.dumps(metrics))
        (data / f"07_model_output/{target}").mkdir(parents=True, exist_ok=True)
        shutil.copy(
            data / f"07_model_output/{source}/test_predictions.npz",
            data / f"07_model_output/{target}/test_predictions.npz",
        )
    _run(project, tags=["comparison"])
    progression = pd.read_csv(data / "08_reporting/comparison/chavez_progression.csv")
    assert progression["status"].tolist() == ["evaluated"] * 7
    assert not np.isnan(progression.loc[6, "coarse-label model accuracy (%)"])
    table = pd.read_csv(data / "08_reporting/comparison/model_comparison.csv")
    assert {"chavez_m7", "chavez_m7_coarse"} <= set(table["model"])
    mcnemar = pd.read_csv(data / "08_reporting/comparison/mcnemar_fine.csv")
    pair = mcnemar[(mcnemar["model_a"] == "chavez_m6") & (mcnemar["model_b"] == "chavez_m7")]
    assert pair["p_value"].item() == 1.0  # identical predictions never disagree
