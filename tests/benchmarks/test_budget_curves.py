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


def _rows_file(path: Path, data: str, rows: list[tuple[float, str, float]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "hardware": f"machine of {path.stem}",
                "data": data,
                "rows": [
                    {"budget_min": b, "architecture": a, "test_accuracy": t, "curve": [[1.0, t]]}
                    for b, a, t in rows
                ],
            }
        )
    )
    return path


def test_replot_draws_several_runs_together_and_gives_no_verdict_to_a_lone_model(
    tmp_path, capsys
):
    # A run at 1 minute with a rival, and a 60-minute row run alone (as in docs/resnet9_fast.md).
    short = _rows_file(
        tmp_path / "short.json", "archive.tar.gz",
        [(1.0, "resnet9_fast", 0.7), (1.0, "chavez_m2", 0.6)],
    )  # fmt: skip
    long = _rows_file(tmp_path / "long.json", "archive.tar.gz", [(60.0, "resnet9_fast", 0.9)])
    plot_path = tmp_path / "both.png"
    rows = budget_curves.main(["--replot", str(short), str(long), "--plot", str(plot_path)])
    printed = capsys.readouterr().out
    assert [row["budget_min"] for row in rows] == [1.0, 1.0, 60.0]
    assert "machine of short" in printed and "machine of long" in printed
    assert "1 min: best resnet9_fast 70.0 %; resnet9_fast +10.0 points" in printed
    assert "(resnet9_fast wins)" in printed
    assert "60 min: best resnet9_fast 90.0 % (only resnet9_fast ran)" in printed
    assert plot_path.read_bytes().startswith(b"\x89PNG")


def test_replot_refuses_runs_on_different_data(tmp_path, capsys):
    one = _rows_file(tmp_path / "one.json", "a.tar.gz", [(1.0, "resnet9_fast", 0.7)])
    other = _rows_file(tmp_path / "other.json", "synthetic", [(5.0, "resnet9_fast", 0.8)])
    with pytest.raises(SystemExit):
        budget_curves.main(["--replot", str(one), str(other)])
    assert "--replot: the files were measured on different data" in capsys.readouterr().err
