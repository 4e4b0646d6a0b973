"""benchmarks/budget_curves.py: a run saves its rows, and --replot redraws them untrained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import budget_curves


def test_rows_saved_by_a_run_replot_without_training(tmp_path, capsys):
    rows_path, plot_path = tmp_path / "rows.json", tmp_path / "curves.png"
    trained = budget_curves.main(
        [
            "--budgets", "0.1", "--architectures", "chavez_m1", "--train-per-class", "2",
            "--test-per-class", "1", "--rows", str(rows_path),
        ]
    )  # fmt: skip
    saved = json.loads(rows_path.read_text())
    assert saved["data"].startswith("synthetic")
    assert [row["architecture"] for row in saved["rows"]] == ["chavez_m1"]
    assert saved["rows"][0]["test_accuracy"] == trained[0]["test_accuracy"]
    assert saved["rows"][0]["curve"], "the validation curve is saved with the row"
    assert not list(tmp_path.glob("*.partial"))
    capsys.readouterr()

    replotted = budget_curves.main(["--replot", str(rows_path), "--plot", str(plot_path)])
    printed = capsys.readouterr().out
    assert replotted == saved["rows"]
    assert "| 0.1 " in printed and "chavez_m1" in printed
    assert "0.1 min: best chavez_m1" in printed
    assert plot_path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "content",
    ["not json", '{"rows": []}', '{"hardware": "h", "data": "d", "rows": [{"architecture": "a"}]}'],
)
def test_replot_of_a_file_that_is_not_a_rows_file_names_it(tmp_path, capsys, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(SystemExit):
        budget_curves.main(["--replot", str(path)])
    error = capsys.readouterr().err
    assert f"--replot {path}: not a rows file written by --rows" in error
