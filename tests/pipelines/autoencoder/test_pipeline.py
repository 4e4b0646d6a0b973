"""The autoencoder pipeline's structure, how it joins the default run, and an end-to-end
run through a KedroSession (test env: pre-training, then both transfer models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kedro.pipeline import Pipeline

from cifar100_kedro import architectures
from cifar100_kedro.pipelines import autoencoder, data_processing, training

# The registry's architectures that start from the pre-trained autoencoder.
PAPER_003_TRANSFER = [
    a.namespace for a in architectures.all_architectures() if "pretrained" in a.extra_inputs
]

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_pipeline_runs_alone_from_the_archive_to_the_reports():
    pipeline = autoencoder.create_pipeline()
    assert {"validate_archive", "split_train_validation", "compute_normalization_stats"} <= {
        n.name for n in pipeline.nodes
    }
    assert pipeline.inputs() == {
        "cifar100_archive",
        "params:split",
        "params:training_run",
        "params:device",
    } | {f"params:autoencoder.{key}" for key in ("pretraining_images", "model", "train", "report")}
    assert {"autoencoder_model", "autoencoder.history", "autoencoder.training_summary",
            "autoencoder.reconstruction_grid",
            "autoencoder.loss_curve"} <= pipeline.all_outputs()  # fmt: skip


def test_summing_with_data_processing_and_training_keeps_one_copy_of_each_node():
    parts = [
        data_processing.create_pipeline(),
        training.create_pipeline(),
        autoencoder.create_pipeline(),
    ]
    combined = sum(parts, Pipeline([]))
    names = [n.name for n in combined.nodes]
    assert len(names) == len(set(names))
    assert len(names) == len({n.name for part in parts for n in part.nodes})
    # The pre-training runs before the transfer models that take its encoder.
    order = [n.name for n in combined.nodes]  # topologically sorted
    for namespace in PAPER_003_TRANSFER:
        assert order.index("autoencoder.train") < order.index(f"{namespace}.train")


def test_transfer_namespaces_take_the_autoencoder_and_no_one_else_does():
    assert PAPER_003_TRANSFER == ["chakraborti_t_arch1", "chakraborti_t_arch2"]
    pipeline = training.create_pipeline()
    for node in pipeline.nodes:
        namespace = node.name.rsplit(".", 1)[0]
        assert ("autoencoder_model" in node.inputs) == (namespace in PAPER_003_TRANSFER), node.name


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project)
    (project / "src").mkdir()  # the package itself is installed; bootstrap only needs the folder
    (project / "data").mkdir()
    return project


def _run(project: Path, pipeline: str, **kwargs):
    import os

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        runtime_params = kwargs.pop("runtime_params", None)
        with KedroSession.create(
            project_path=project, env="test", runtime_params=runtime_params
        ) as session:
            return session.run(pipeline_names=[pipeline], **kwargs)
    finally:
        os.chdir(cwd)


@pytest.mark.slow
def test_pretraining_then_transfer_through_kedro_sessions(tmp_path):
    project = _project(tmp_path)
    with pytest.raises(
        Exception, match=r"autoencoder\.pretraining_images\.folder'.*not an existing folder"
    ):
        _run(
            project,
            "autoencoder",
            runtime_params={
                "autoencoder": {"pretraining_images": {"folder": str(tmp_path / "nope")}}
            },
        )

    _run(project, "autoencoder")
    data = project / "data"
    assert (data / "06_models/autoencoder/model.keras").is_file()
    for report in ("reconstructions.png", "reconstruction_loss.png"):
        assert (data / "08_reporting/autoencoder" / report).stat().st_size > 1000
    summary = json.loads((data / "07_model_output/autoencoder/training_summary.json").read_text())
    assert (
        summary["pretraining_images"] == 400 and summary["epochs_run"] == 1
    )  # test env: 80% of 500, max_epochs 1

    _run(project, "training", namespaces=list(PAPER_003_TRANSFER))
    summaries = {
        name: json.loads((data / f"07_model_output/{name}/training_summary.json").read_text())
        for name in PAPER_003_TRANSFER
    }
    for name, result in summaries.items():
        assert result["pretrained_from"] == "autoencoder" and result["pretrained_layers"] == 9, name
        assert (data / f"06_models/{name}/model.keras").is_file()
    arch1, arch2 = summaries["chakraborti_t_arch1"], summaries["chakraborti_t_arch2"]
    assert arch1["total_params"] == arch2["total_params"]
    assert arch2["trainable_params"] < arch1["trainable_params"]
