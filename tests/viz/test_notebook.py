"""The exploration notebook runs headless (nbclient) on a run's outputs and shows what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.viz.support import PROJECT_ROOT, viz_namespace

NOTEBOOK = "explore_cifar100.ipynb"


def test_notebooks_are_committed_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    notebooks = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
    assert PROJECT_ROOT / "notebooks" / NOTEBOOK in notebooks
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name}: clear outputs"
                )


def test_exploration_notebook_runs_on_the_outputs(run_project: Path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip(
        "nbclient", reason="nbclient not installed: pip install nbclient ipykernel"
    )
    pytest.importorskip("ipykernel", reason="ipykernel not installed: pip install ipykernel")

    # The kernel inherits this environment: the Kedro extension reads KEDRO_ENV.
    monkeypatch.setenv("KEDRO_ENV", "test")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    folder = run_project / "notebooks"
    notebook = nbformat.read(folder / NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
    nbformat.write(notebook, folder / f"executed_{NOTEBOOK}")

    text, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            text.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
            images += "image/png" in output.get("data", {})
    text = "\n".join(text)
    assert "Kedro environment: test" in text
    # Sample grid, class balance, predictions grid.
    assert images >= 3, f"expected at least 3 figures, got {images}"
    # The split is stratified and the synthetic classes are balanced: one share for all.
    share = re.search(r"validation share per class: min ([0-9.]+), max ([0-9.]+)", text)
    assert share and share.group(1) == share.group(2), share
    assert f"{viz_namespace()} (fine labels, 1 epoch(s)): test accuracy" in text
