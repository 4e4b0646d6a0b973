"""``kedro viz build --include-previews``: every pipeline, every architecture namespace and
dataset previews (plots, metrics JSON, tables) are in the static site it writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.viz.support import CORE_PIPELINES, kedro, viz_namespace

PREVIEW_TYPES = ("ImagePreview", "JSONPreview", "TablePreview")


@pytest.fixture(scope="module")
def build_api(run_project: Path) -> Path:
    """The ``build/api`` folder of a static kedro-viz build with previews (environment test)."""
    output = kedro(run_project, "viz", "build", "--include-previews", KEDRO_ENV="test")
    api = run_project / "build" / "api"
    # `kedro viz build` reports failures on stdout and still exits 0.
    assert (api / "main").is_file(), f"kedro viz build wrote no build/api/main:\n{output[-4000:]}"
    return api


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def data_nodes(api: Path) -> dict[str, dict]:
    """Dataset nodes of the default pipeline: ``{name: node}``."""
    return {n["name"]: n for n in load(api / "main")["nodes"] if n["type"] == "data"}


def test_every_registered_pipeline_is_in_the_build(
    build_api: Path, registered_pipelines: dict
) -> None:
    listed = {p["id"] for p in load(build_api / "main")["pipelines"]}
    missing = sorted(set(registered_pipelines) - listed)
    assert not missing, f"pipelines registered but not in kedro-viz: {missing}"
    assert set(CORE_PIPELINES) <= set(registered_pipelines), sorted(registered_pipelines)
    for name, pipeline in registered_pipelines.items():
        response = load(build_api / "pipelines" / name)
        tasks = [n for n in response["nodes"] if n["type"] == "task"]
        assert len(tasks) == len(pipeline.nodes), (
            f"pipeline {name!r}: {len(tasks)} task nodes in viz, {len(pipeline.nodes)} in Kedro"
        )


def test_each_architecture_is_a_collapsible_namespace(build_api: Path) -> None:
    from cifar100_kedro.architectures import default_training

    ARCHITECTURES = [a.namespace for a in default_training()]

    for pipeline in ("training", "__default__"):
        modular = load(build_api / "pipelines" / pipeline)["modular_pipelines"]
        missing = [ns for ns in ARCHITECTURES if ns not in modular]
        assert not missing, f"architectures without a namespace in {pipeline!r}: {missing}"
        for ns in ARCHITECTURES:
            kinds = {child["type"] for child in modular[ns]["children"]}
            assert "task" in kinds or "modularPipeline" in kinds, (ns, modular[ns])
            assert modular[ns]["inputs"] and modular[ns]["outputs"], (ns, modular[ns])


def test_run_outputs_have_previews(build_api: Path, run_project: Path) -> None:
    """Every dataset written by the run that kedro-viz can preview has its preview."""
    seen: dict[str, list[str]] = {kind: [] for kind in PREVIEW_TYPES}
    missing = []
    for name, node in data_nodes(build_api).items():
        metadata = load(build_api / "nodes" / node["id"])
        kind = metadata.get("preview_type")
        filepath = metadata.get("filepath")
        if kind not in PREVIEW_TYPES or not filepath or not Path(filepath).is_file():
            continue
        assert Path(filepath).is_relative_to(run_project), (name, filepath)
        if metadata.get("preview") is None:
            missing.append(name)
        else:
            seen[kind].append(name)
    assert not missing, f"datasets on disk without a preview: {missing}"
    assert all(seen.values()), f"no preview of some kind: {seen}"

    ns = viz_namespace()
    assert f"{ns}.history" in seen["TablePreview"]
    assert f"{ns}.training_summary" in seen["JSONPreview"]
    assert any(name.startswith(f"{ns}.") for name in seen["ImagePreview"]), seen["ImagePreview"]


def test_image_previews_are_png(build_api: Path) -> None:
    for name, node in data_nodes(build_api).items():
        metadata = load(build_api / "nodes" / node["id"])
        if metadata.get("preview_type") == "ImagePreview" and metadata.get("preview"):
            assert base64.b64decode(metadata["preview"])[:8] == b"\x89PNG\r\n\x1a\n", name
            return
    pytest.fail("no image preview in the build")


def test_json_and_table_previews_hold_the_run_values(build_api: Path, run_project: Path) -> None:
    ns = viz_namespace()
    nodes = data_nodes(build_api)
    summary = json.loads(
        (run_project / "data" / "07_model_output" / ns / "training_summary.json").read_text()
    )
    preview = load(build_api / "nodes" / nodes[f"{ns}.training_summary"]["id"])["preview"]
    assert json.loads(preview)["epochs_run"] == summary["epochs_run"] == 1
    table = load(build_api / "nodes" / nodes[f"{ns}.history"]["id"])["preview"]
    assert "val_accuracy" in table["columns"] and len(table["data"]) == 1


def test_cross_validation_folds_are_nodes(build_api: Path) -> None:
    """One task node per (architecture, fold), inside the architecture's namespace block."""
    from cifar100_kedro.pipelines.cross_validation.pipeline import dimensions

    chosen, folds = dimensions()
    response = load(build_api / "pipelines" / "cross_validation")
    fold_tasks = {
        (tuple(n["modular_pipelines"] or ()), n["name"])
        for n in response["nodes"]
        if n["type"] == "task" and n["name"].split(".")[-1].startswith("fold_")
    }
    expected = {((a.namespace,), f"fold_{k}") for a in chosen for k in range(folds)}
    names = {(ns, name.split(".")[-1]) for ns, name in fold_tasks}
    assert names == expected, sorted(names ^ expected)
