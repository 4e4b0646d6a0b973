"""``kedro run --pipeline=cross_validation`` end to end on the test env (K = 2, two small
models, one epoch each), then a rerun that retrains only the fold whose record is gone."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import copy_project, run_session

pytestmark = pytest.mark.slow

REPORTS = "data/08_reporting/cross_validation"


@pytest.fixture(scope="module")
def cross_validated(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("cross_validation") / "project")
    (project / "src").mkdir(exist_ok=True)  # bootstrap_project wants it; the package is installed
    run_session(project, ["cross_validation"])
    return project


def test_fold_results_cover_every_model_and_fold(cross_validated):
    results = pd.read_csv(
        cross_validated / "data/07_model_output/cross_validation/fold_results.csv"
    )
    assert results[["architecture", "fold"]].values.tolist() == [
        ["chavez_m1", 0],
        ["chavez_m1", 1],
        ["chavez_m2", 0],
        ["chavez_m2", 1],
    ]
    # 500 synthetic training images (train_split + validation_split), halved.
    assert (results["train_images"] == 250).all() and (results["heldout_images"] == 250).all()
    assert results["accuracy"].between(0, 1).all() and (results["cross_entropy"] > 0).all()
    assert (results["epochs_run"] == 1).all()
    plan = json.loads(
        (cross_validated / "data/07_model_output/cross_validation/plan.json").read_text()
    )
    assert plan["folds"] == 2 and plan["architectures"]["chavez_m1"]["train"]["epochs"] == 1


def test_tables_heatmap_and_verdict_are_written(cross_validated):
    reports = cross_validated / REPORTS
    table_1 = pd.read_csv(reports / "table_1_mean_scores.csv")
    assert table_1["model"].tolist() == ["chavez_m1", "chavez_m2"]
    table_2 = pd.read_csv(reports / "table_2_confidence_bounds.csv")
    assert table_2.columns.tolist() == ["model", "chavez_m1", "chavez_m2", "optimal_model"]
    assert table_2.loc[0, "chavez_m1"] == 0 and table_2.loc[1, "chavez_m2"] == 0
    assert set(table_2["optimal_model"]) <= {"chavez_m1", "chavez_m2"}
    tests = pd.read_csv(reports / "corrected_resampled_ttest.csv")
    assert tests[["model_a", "model_b", "df"]].values.tolist() == [["chavez_m1", "chavez_m2", 1]]
    assert (reports / "table_2_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verdict = json.loads((reports / "verdict.json").read_text())
    assert verdict["folds"] == 2 and verdict["t_critical"] == pytest.approx(6.3138, abs=1e-4)
    assert verdict["paper_003"]["best_overall"] in ("chavez_m1", "chavez_m2")
    assert verdict["paper_003"]["optimal_per_row"] == dict(
        zip(table_2["model"], table_2["optimal_model"])
    )


def test_rerun_trains_only_the_missing_fold(cross_validated):
    records = cross_validated / "data/06_models/_cross_validation"
    kept = {path: path.stat().st_mtime_ns for path in records.glob("*/fold*.json")}
    assert len(kept) == 4
    missing = records / "chavez_m2" / "fold1.json"
    del kept[missing]
    missing.unlink()
    before = pd.read_csv(cross_validated / "data/07_model_output/cross_validation/fold_results.csv")
    run_session(cross_validated, ["cross_validation"])
    assert missing.exists()
    assert {path: path.stat().st_mtime_ns for path in kept} == kept  # reused, not rewritten
    after = pd.read_csv(cross_validated / "data/07_model_output/cross_validation/fold_results.csv")
    pd.testing.assert_frame_equal(before.iloc[:3], after.iloc[:3])
