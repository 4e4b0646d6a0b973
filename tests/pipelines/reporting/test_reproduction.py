"""The papers' own tables and figures regenerated from our results, the paper's number beside ours.

Fast: paper 000's Table I node; our number for a paper's figure on each split; each kind of
table (reported figures, Table I, cross-validation, Table II, Fig. 11) on small known inputs;
Markdown without ``nan``, the same after a CSV round trip; "not run" for missing results; the
figures; the pipeline's inputs. Slow: ``kedro run --pipeline=reporting --tags=reproduction``
through a KedroSession on a project holding only the results the pages read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cifar100_kedro import architectures
from cifar100_kedro.architectures import PAPER_000_TABLE_I
from cifar100_kedro.pipelines.reporting import reproduction as rp
from cifar100_kedro.pipelines.reporting.nodes import paper_000_table_1
from cifar100_kedro.pipelines.reporting.pipeline import create_reproduction_pipeline
from tests.conftest import run_session

NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def test_paper_000_table_1_puts_ours_beside_the_papers_at_its_epochs():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 26],
            "accuracy": [0.20, 0.30, 0.50],
            "val_accuracy": [0.19, 0.29, 0.55],
            "loss": [3.0, 2.5, 1.8],
            "val_loss": [3.1, 2.6, 1.7],
        }
    )
    table = paper_000_table_1(history)
    assert list(table["epoch"]) == [1, 26, 51, 76, 101, 126, 151, 172]
    assert list(table["accuracy (paper)"]) == list(PAPER_000_TABLE_I["accuracy"])
    first, second = table.iloc[0], table.iloc[1]
    assert first["accuracy (ours)"] == 20.0 and second["val_accuracy (ours)"] == 55.0
    assert np.isclose(first["accuracy (ours − paper)"], 20.0 - 18.15)
    assert np.isclose(second["val_loss (ours − paper)"], 1.7 - 1.63)
    # Epochs this run did not reach stay empty, never a made-up number.
    assert table.iloc[2:][["accuracy (ours)", "loss (ours)"]].isna().all().all()


# ----------------------------------------------------------------------------- small inputs
def history(epochs: int = 3) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "accuracy": 0.1 * e,
            "val_accuracy": 0.08 * e,
            "loss": 4.0 / e,
            "val_loss": 4.2 / e,
        }
    )


def result(ns: str, accuracy: float = 0.6, protocol: str = "holdout", epochs: int = 3) -> dict:
    """One namespace's ``metrics``, ``history`` and ``summary``, as the pipelines write them."""
    coarse = ns.endswith("_coarse")
    metrics = {
        "namespace": ns,
        "label_mode": "coarse" if coarse else "fine",
        "accuracy": None if coarse else accuracy,
        "loss": None if coarse else 1.5,
        "coarse_accuracy": accuracy + 0.1,
        "coarse_loss": 1.2 if coarse else None,
        "trainable_params": 1000,
        "total_params": 1100,
        "epochs_requested": 100,
        "epochs_run": epochs,
        "best_epoch": 2,
        "best_val_accuracy": 0.55,
        "best_val_loss": 1.6,
        "training_seconds": 90.0,
        "test_samples": 200,
        "protocol": protocol,
    }
    summary = {
        "namespace": ns,
        "label_mode": metrics["label_mode"],
        "epochs_requested": 100,
        "epochs_run": epochs,
        "best_epoch": 2,
        "train_images": 400,
        "validation_images": 100,
        "trainable_params": 1000,
        "total_params": 1100,
        "training_seconds": 90.0,
        "protocol": protocol,
    }
    return {"metrics": metrics, "history": history(epochs), "summary": summary}


def inputs_for(paper: rp.Paper, present: dict[str, dict], **extras) -> dict:
    """The tables node's arguments: ``present`` namespaces' results, ``None`` for the others."""
    registry = rp.paper_registry(architectures.all_architectures(), paper.number)
    inputs = {argument: None for argument in rp.paper_inputs(paper, registry, set())}
    for ns, data in present.items():
        for kind in ("metrics", "history", "summary"):
            inputs[f"{ns}__{kind}"] = data[kind]
    inputs.update(extras)
    return inputs


def tables(paper: rp.Paper, present: dict[str, dict], **extras):
    registry = rp.paper_registry(architectures.all_architectures(), paper.number)
    return rp.paper_tables(paper, registry, **inputs_for(paper, present, **extras))


def row(table: pd.DataFrame, model: str, metric: str, section: str | None = None) -> dict:
    rows = table[(table["model"] == model) & (table["metric"] == metric)]
    if section is not None:
        rows = rows[rows["section"].str.startswith(section)]
    assert len(rows), (model, metric, section)
    return rows.to_dict("records")[0]


def csv_round_trip(frame: pd.DataFrame, tmp_path: Path, name: str) -> pd.DataFrame:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


# ----------------------------------------------------------------------------- our numbers
def test_our_value_on_each_split():
    data = result("m", accuracy=0.6)
    assert rp.our_value("accuracy", "test", data) == (60.0, "test", "measured")
    assert rp.our_value("accuracy", "holdout", data)[:2] == (60.0, "test")  # CIFAR-100's
    assert rp.our_value("loss", "test", data)[0] == 1.5
    value, split, _ = rp.our_value("accuracy", "validation", data)
    assert value == pytest.approx(55.0) and split == "validation split, epoch 2"
    value, split, _ = rp.our_value("training_accuracy", "training", data)
    assert value == pytest.approx(20.0) and split == "training, epoch 2"  # history at best epoch
    assert rp.our_value("trainable_params", "training", data)[0] == 1000
    assert rp.our_value("train_images", "training", data)[0] == 400
    # Under the paper's protocol, what the history calls validation is the test set.
    paper = result("m", protocol="paper")
    assert rp.our_value("accuracy", "validation", paper)[1] == "test set (watched), epoch 2"
    assert rp.our_value("validation_images", "test", paper)[1] == "test set (watched)"
    coarse = result("m_coarse", accuracy=0.3)
    assert rp.our_value("coarse_accuracy", "test", coarse)[0] == pytest.approx(40.0)
    assert rp.our_value("loss", "test", coarse)[0] == 1.2


def test_our_value_of_a_missing_result_is_not_run():
    nothing = {"metrics": None, "history": None, "summary": None}
    value, split, status = rp.our_value("accuracy", "test", nothing)
    assert np.isnan(value) and split == "" and status == "not run"
    assert rp.our_value("accuracy", "cross_validation", result("m"))[2] == "not run"
    cv = {"model": "m", "folds": 5, "mean_accuracy_percent": 40.5, "mean_loss": 5.0}
    assert rp.our_value("accuracy", "cross_validation", {}, cv_row=cv) == (
        40.5,
        "5-fold cross-validation",
        "measured",
    )
    assert rp.our_value("accuracy", "test", result("m_coarse"))[2] == "not measured"


# ----------------------------------------------------------------------------- the tables
def test_paper_001_the_papers_number_beside_ours_and_the_difference():
    figures, models = tables(
        rp.PAPER_001,
        {"khanna_vgg_cnn": result("khanna_vgg_cnn", accuracy=0.6)},
        khanna_vgg_cnn__class_report=pd.DataFrame(
            {"class": ["apple", "macro avg"], "class_index": [0, None], "precision": [0.7, 0.5]}
        ),
    )
    test = row(figures, "khanna_vgg_cnn", "accuracy", "Conclusion")
    assert test["paper"] == 59.09 and test["ours"] == 60.0 and test["paper_split"] == "test"
    assert test["difference"] == pytest.approx(60.0 - 59.09)
    assert test["protocol"] == "holdout" and test["epochs_run"] == "3 of 100"
    assert test["parameters"] == 1000
    validation = figures[
        (figures["model"] == "khanna_vgg_cnn")
        & (figures["paper_split"] == "validation")
        & figures["metric"].isin(rp.SCORES)
    ]
    assert set(validation["ours"]) == {55.0, 1.6}  # best validation accuracy and loss
    params = row(figures, "khanna_vgg_cnn", "trainable_params")
    assert params["paper"] == 13_870_484 and params["difference"] == 1000 - 13_870_484
    # Opt-in studies not trained yet: "not run", never a number.
    baseline = row(figures, "khanna_baseline_cnn", "accuracy")
    assert baseline["paper"] == 39.5 and baseline["status"] == "not run"
    assert np.isnan(baseline["ours"]) and np.isnan(baseline["difference"])
    precision = row(figures, "khanna_vgg_cnn", "precision")
    assert precision["paper"] == 0.81 and precision["ours"] == 0.7
    assert "category 0 (apple)" in precision["figure"]
    assert row(figures, "khanna_vgg_cnn", "recall")["status"] == "not measured"
    assert models.set_index("model").loc["khanna_vgg_cnn", "status"] == "run"
    assert models.set_index("model").loc["khanna_baseline_cnn", "command"] == (
        "kedro run --pipeline=paper_studies"
    )


def test_paper_000_table_i_per_epoch_and_not_reached():
    present = {"rana_elu_cnn": result("rana_elu_cnn", epochs=26)}
    present["rana_elu_cnn"]["history"] = history(26)
    table_1 = paper_000_table_1(present["rana_elu_cnn"]["history"])
    figures, _ = tables(rp.PAPER_000, present, rana_elu_cnn__table_1=table_1)
    epochs = figures[(figures["kind"] == "epochs") & (figures["model"] == "rana_elu_cnn")]
    assert len(epochs) == 8 * 4
    first = epochs[epochs["figure"] == "epoch 1: training accuracy (%)"].iloc[0]
    assert first["paper"] == 18.15 and first["ours"] == pytest.approx(10.0)
    assert first["difference"] == pytest.approx(10.0 - 18.15)
    late = epochs[epochs["figure"].str.startswith("epoch 51:")]
    assert set(late["status"]) == {"not reached"}
    watched = epochs[epochs["metric"] == "val_accuracy"].iloc[0]
    assert watched["paper_split"] == "test" and watched["our_split"] == "validation split"
    # The paper protocol's run is opt-in: one "not run" row, not 32.
    other = figures[(figures["kind"] == "epochs") & (figures["model"] != "rana_elu_cnn")]
    assert list(other["status"]) == ["not run"]
    fitted = row(figures, "rana_elu_cnn", "train_images")
    assert fitted["paper"] == 50_000 and fitted["ours"] == 400


def test_paper_003_cross_validation_and_table_ii():
    chosen = architectures.PAPER_003_CHOSEN
    cv_1 = pd.DataFrame(
        {"model": [chosen], "folds": [5], "mean_accuracy_percent": [40.0], "mean_loss": [5.0]}
    )
    names = list(architectures.PAPER_003_TABLE_II_CHOSEN_ROW)
    cv_2 = pd.DataFrame(
        {
            "model": [chosen, names[0]],
            **{ns: [0.05, -0.05] for ns in names},
            chosen: [0.0, -0.05],
            "optimal_model": [chosen, chosen],
        }
    )
    figures, _ = tables(
        rp.PAPER_003,
        {chosen: result(chosen, accuracy=0.3)},
        cross_validation_table_1=cv_1,
        cross_validation_table_2=cv_2,
    )
    cv = row(figures, chosen, "accuracy", "Table I: 5-fold")
    assert cv["paper"] == 41.94 and cv["ours"] == 40.0
    assert cv["our_split"] == "5-fold cross-validation" and cv["protocol"] == "cross-validation"
    assert row(figures, "chakraborti_arch1_hyp1", "accuracy", "Table I: 5-fold")["status"] == (
        "not run"
    )
    on_test = row(figures, chosen, "accuracy", "Table I's models")
    assert on_test["ours"] == pytest.approx(30.0) and on_test["our_split"] == "test"
    holdout = row(figures, chosen, "accuracy", "Section V")
    assert holdout["paper"] == 44.06 and holdout["paper_split"] == "holdout"
    bound = figures[figures["figure"].str.startswith("Arch2-Hyp3 − Arch1-Hyp1")].iloc[0]
    assert bound["paper"] == 0.0687 and bound["ours"] == 0.05
    verdict = row(figures, chosen, "optimal_model")
    assert verdict["paper_text"] == "Arch2-Hyp3 in 8 of 8 rows"
    assert verdict["ours_text"] == "Arch2-Hyp3 in 2 of 2 rows"


def test_paper_002_models_without_a_printed_number_and_paper_004_range():
    figures, _ = tables(rp.PAPER_002, {"chavez_m3": result("chavez_m3", accuracy=0.25)})
    m3 = row(figures, "chavez_m3", "accuracy")
    assert np.isnan(m3["paper"]) and m3["ours"] == 25.0 and np.isnan(m3["difference"])
    assert row(figures, "chavez_m7", "accuracy")["status"] == "not run"
    assert row(figures, "chavez_m1_coarse", "coarse_accuracy")["paper"] == 37.7
    figures, _ = tables(rp.PAPER_004, {"fish_subset": result("fish_subset", accuracy=0.7)})
    ends = figures[(figures["model"] == "fish_subset") & (figures["metric"] == "accuracy")]
    assert list(ends["paper"]) == [68.0, 76.0]  # the range, from the registry
    assert list(ends["difference"]) == pytest.approx([2.0, -6.0])
    overfitting = row(figures, "fish_subset", "overfitting_epoch")
    assert overfitting["paper"] == 12 and overfitting["ours"] == 3  # our lowest val_loss


# ----------------------------------------------------------------------------- Markdown
def test_page_markdown_has_the_numbers_and_no_nan(tmp_path):
    figures, models = tables(rp.PAPER_001, {"khanna_vgg_cnn": result("khanna_vgg_cnn", 0.6)})
    page = rp.paper_page(figures, models, rp.PAPER_001)
    assert not NAN.search(page)
    line = next(x for x in page.splitlines() if x.startswith("| accuracy (%) · Conclusion"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:9] == [
        "`khanna_vgg_cnn`",
        "59.09",
        "60.00",
        "+0.91",
        "test vs test",
        "holdout",
        "3 of 100",
        "1,000",
    ]
    assert "| trainable parameters · Section 3, Conclusion | `khanna_vgg_cnn` | 13,870,484 |" in (
        page
    )
    assert "not run: `kedro run --pipeline=paper_studies`" in page  # the models table
    assert "| accuracy (%) · Section 3 | `khanna_baseline_cnn` | 39.50 | not run | – |" in page
    assert "## Deviations" in page and "featurewise_center" in page
    assert "![The paper's accuracies beside ours](paper_001_accuracy.png)" in page
    # The page reads the same from the CSV files a later `--tags=reproduction` run loads.
    again = rp.paper_page(
        csv_round_trip(figures, tmp_path, "t"), csv_round_trip(models, tmp_path, "m"), rp.PAPER_001
    )
    assert again == page


@pytest.mark.parametrize("number", list(rp.PAPERS))
def test_every_page_before_anything_has_run(number):
    paper = rp.PAPERS[number]
    figures, models = tables(paper, {})
    assert (figures["status"] == "not run").all() and (models["status"] == "not run").all()
    page = rp.paper_page(figures, models, paper)
    assert not NAN.search(page)
    assert page.count("## ") == len(paper.sections) + 3  # models, sections, figures, deviations
    assert "not run" in page and "## Deviations" in page
    for deviation in paper.deviations:
        assert deviation.what.split("`")[0][:20] in page


def test_index_lists_every_paper_with_its_headline():
    pages = {}
    for paper in rp.PAPERS.values():
        present = {paper.headline[0]: result(paper.headline[0], accuracy=0.5)}
        figures, models = tables(paper, present)
        pages[f"{paper.key}_table"], pages[f"{paper.key}_models"] = figures, models
    index = rp.index_page(rp.PAPERS, **pages)
    assert not NAN.search(index)
    for paper in rp.PAPERS.values():
        assert f"[{paper.key}.md]({paper.key}.md)" in index
    line = next(x for x in index.splitlines() if "paper_001.md" in x)
    assert "| 001 C. Khanna |" in line and "| 59.09 | 50.00 | -9.09 | test vs test |" in line
    assert "| 1 of 6 |" in line  # models run


def test_formatting_never_prints_nan():
    assert rp.format_value(float("nan"), "accuracy") == "–"
    assert rp.format_value(None, "loss") == "–"
    assert rp.format_paper(None, "accuracy") == "not given"
    assert rp.format_paper(1.6, "loss") == "1.60" and rp.format_paper(2.3989, "loss") == "2.3989"
    assert rp.format_value(13_870_484, "trainable_params") == "13,870,484"
    assert rp.format_difference(-0.0001, "accuracy") == "+0.00"
    assert rp.format_difference(float("nan"), "accuracy") == "–"


# ----------------------------------------------------------------------------- figures
def test_figures_are_drawn_for_run_and_missing_models():
    figures, _ = tables(rp.PAPER_001, {"khanna_vgg_cnn": result("khanna_vgg_cnn")})
    bars = rp.plot_paper_figures(figures, rp.PAPER_001)
    assert len(bars.axes) == 3  # Conclusion, baseline, learning-rate study
    registry = rp.paper_registry(architectures.all_architectures(), "001")
    curves = rp.plot_paper_curves(
        figures, rp.PAPER_001, registry, khanna_vgg_cnn__history=history()
    )
    visible = [ax for ax in curves.axes if ax.get_visible()]
    assert len(visible) == len(rp.PAPER_001.curves)
    assert len(visible[0].lines) >= 3  # training, validation, the paper's figures
    texts = [t.get_text() for t in visible[2].texts]
    assert any("khanna_baseline_cnn: not run" in t for t in texts)


# ----------------------------------------------------------------------------- the pipeline
def test_pipeline_reads_optional_results_through_if_present():
    pipeline = create_reproduction_pipeline()
    outputs = pipeline.all_outputs()
    for paper in rp.PAPERS.values():
        for suffix in ("table", "models", "page", "accuracy_plot"):
            assert f"reproduction.{paper.key}_{suffix}" in outputs
    assert {"reproduction.index", "rana_elu_cnn.paper_table_1"} <= outputs
    inputs = pipeline.inputs()
    assert {"khanna_vgg_cnn.metrics", "khanna_vgg_cnn.history"} <= inputs  # evaluated here
    assert "khanna_baseline_cnn.metrics_if_present" in inputs  # opt-in study
    assert {"fish_subset.history_if_present", "chavez_m7.training_summary_if_present"} <= inputs
    assert "cross_validation_table_1_if_present" in inputs
    assert all(n.tags >= {"reporting", "reproduction"} for n in pipeline.nodes)


# ----------------------------------------------------------------------------- end to end
def write_results(data: Path, ns: str, data_for_ns: dict) -> None:
    (data / "08_reporting" / ns).mkdir(parents=True, exist_ok=True)
    (data / "07_model_output" / ns).mkdir(parents=True, exist_ok=True)
    (data / "08_reporting" / ns / "metrics.json").write_text(json.dumps(data_for_ns["metrics"]))
    data_for_ns["history"].to_csv(data / "07_model_output" / ns / "history.csv", index=False)
    summary = json.dumps(data_for_ns["summary"])
    (data / "07_model_output" / ns / "training_summary.json").write_text(summary)


@pytest.mark.slow
def test_reproduction_pages_through_a_kedro_session(project_copy):
    """``kedro run --pipeline=reporting --tags=reproduction`` from existing results only."""
    data = project_copy / "data"
    evaluated = [a.namespace for a in architectures.compared(["training"])]
    for i, ns in enumerate(evaluated):
        write_results(data, ns, result(ns, accuracy=0.2 + 0.01 * i))
    write_results(data, "fish_subset", result("fish_subset", accuracy=0.7))  # an opt-in one
    pd.DataFrame(
        {"class": ["apple"], "class_index": [0], "precision": [0.5], "recall": [0.4]}
    ).to_csv(data / "08_reporting/khanna_vgg_cnn/classification_report.csv", index=False)

    run_session(project_copy, ["reporting"], tags=["reproduction"])

    folder = data / "08_reporting" / "reproduction"
    for paper in rp.PAPERS.values():
        page = (folder / f"{paper.key}.md").read_text()
        assert not NAN.search(page), paper.key
        assert (folder / f"{paper.key}_accuracy.png").read_bytes()[:4] == b"\x89PNG"
        assert (folder / f"{paper.key}.csv").is_file()
        assert (folder / f"{paper.key}_curves.png").is_file() == bool(paper.curves)
    index = (folder / "index.md").read_text()
    assert index.count(".md](paper_") == 5 and not NAN.search(index)
    fish = (folder / "paper_004.md").read_text()
    assert "| accuracy (%) · Conclusion | `fish_subset` | 68.00 | 70.00 | +2.00 |" in (fish)
    assert "not run: `kedro run --pipeline=paper_studies`" in (folder / "paper_001.md").read_text()
    table_1 = pd.read_csv(data / "08_reporting/rana_elu_cnn/paper_table_1.csv")
    assert table_1.loc[0, "accuracy (ours)"] == pytest.approx(10.0)
