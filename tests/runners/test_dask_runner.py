"""The Dask runner: hand-off checks before a run, toy pipelines on a 2-process LocalCluster,
and the project's training and reporting with the same metrics as the sequential runner."""

from __future__ import annotations

import json
import threading

import pytest
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from cifar100_kedro.runners import DaskRunner
from cifar100_kedro.runners.handoffs import (
    HandoffError,
    group_nodes,
    memory_handoffs,
    probe_problems,
    storage_roots,
)
from tests.conftest import copy_project, run_session


def _toy_functions():
    """Node functions defined here are sent to the workers by value (cloudpickle)."""

    def double(x):
        return 2 * x

    def add(a, b):
        return a + b

    def fail(x):
        raise ValueError(f"bad value {x}")

    return double, add, fail


def _toy_pipeline(tmp_path):
    """source → (memory) doubled → total (file), and doubled → again (memory, a free output)."""
    double, add, _ = _toy_functions()
    pipeline = Pipeline([
        Node(double, "source", "doubled", name="double"),
        Node(add, ["doubled", "offset"], "total", name="add"),
        Node(double, "total", "again", name="double_again"),
    ])  # fmt: skip
    from kedro_datasets.json import JSONDataset

    catalog = DataCatalog(
        datasets={
            "source": MemoryDataset(3),
            "offset": MemoryDataset(10),
            "total": JSONDataset(filepath=str(tmp_path / "out" / "total.json")),
        }
    )
    return pipeline, catalog


class _LockedDataset(AbstractDataset):
    """A dataset holding a thread lock: it cannot be pickled to a worker."""

    def __init__(self):
        self._lock = threading.Lock()

    def _load(self):
        return 1

    def _save(self, data):
        pass

    def _describe(self):
        return {}


def test_nodes_joined_in_memory_are_one_task_and_the_others_wait_for_it(tmp_path):
    pipeline, catalog = _toy_pipeline(tmp_path)
    assert memory_handoffs(pipeline, catalog) == {"doubled"}
    groups = group_nodes(pipeline, {"doubled"})
    assert [[n.name for n in g.nodes] for g in groups] == [["double", "add"], ["double_again"]]
    assert groups[1].depends_on == {groups[0].name}


def test_groups_come_after_the_groups_they_wait_for():
    double, add, _ = _toy_functions()
    # a → (memory) m → c, and b → (file) f → c: the group {a, c} waits for {b}.
    pipeline = Pipeline([
        Node(double, "x", "m", name="a"),
        Node(double, "y", "f", name="b"),
        Node(add, ["m", "f"], "out", name="c"),
    ])  # fmt: skip
    groups = group_nodes(pipeline, {"m"})
    assert [[n.name for n in g.nodes] for g in groups] == [["b"], ["a", "c"]]
    assert groups[1].depends_on == {"b"}


def test_grouping_that_would_make_tasks_wait_for_each_other_names_the_datasets():
    double, add, _ = _toy_functions()
    # a → (memory) m → c, and a → (file) f → b → (file) g → c: {a, c} would wait for b.
    pipeline = Pipeline([
        Node(lambda x: (x, x), "x", ["m", "f"], name="a"),
        Node(double, "f", "g", name="b"),
        Node(add, ["m", "g"], "out", name="c"),
    ])  # fmt: skip
    with pytest.raises(HandoffError, match=r"in-memory datasets \['m'\].*persist them"):
        group_nodes(pipeline, {"m"})


def test_in_memory_handoffs_stop_the_run_before_any_worker_starts_when_grouping_is_off(
    tmp_path,
):
    pipeline, catalog = _toy_pipeline(tmp_path)
    runner = DaskRunner(group_in_memory=False, n_workers=1, dashboard_address=None)
    with pytest.raises(HandoffError, match=r"datasets \['doubled'\] are handed between nodes"):
        runner.run(pipeline, catalog)


def test_a_dataset_that_cannot_be_pickled_is_named(tmp_path):
    pipeline, catalog = _toy_pipeline(tmp_path)
    catalog["total"] = _LockedDataset()
    runner = DaskRunner(n_workers=1, dashboard_address=None)
    with pytest.raises(HandoffError, match=r"cannot be sent to worker processes:\n  total: "):
        runner.run(pipeline, catalog)


def test_a_worker_elsewhere_reports_the_folder_and_the_probe_it_cannot_read(
    tmp_path, monkeypatch
):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "data").mkdir(parents=True)
    elsewhere.mkdir()
    probe = project / "data" / ".probe"
    probe.write_text("token")
    assert storage_roots({"a": "data/06_models/a.keras", "b": "/shared/x/b.csv"}) == {
        "data": ["a"],
        "/shared/x": ["b"],
    }
    monkeypatch.chdir(project)
    assert probe_problems({"data": (str(probe), "token")}, str(project)) == []
    monkeypatch.chdir(elsewhere)
    problems = probe_problems(
        {"data": (str(probe), "token"), "/gone": ("/gone/.probe", "t")}, str(project)
    )
    assert len(problems) == 2
    assert f"its working directory is {elsewhere}, not the project folder {project}" in problems[0]
    assert "cannot read /gone/.probe under '/gone'" in problems[1]


def test_a_toy_pipeline_runs_on_two_worker_processes_and_returns_its_free_outputs(tmp_path):
    pipeline, catalog = _toy_pipeline(tmp_path)
    runner = DaskRunner(n_workers=2, dashboard_address=None, progress_interval=1)
    outputs = runner.run(pipeline, catalog)
    assert json.loads((tmp_path / "out" / "total.json").read_text()) == 16  # 2*3 + 10
    assert outputs["again"].load() == 32


def test_progress_lines_say_what_is_done_running_and_waiting(tmp_path, caplog):
    import logging
    import time

    def slow(x):
        time.sleep(3)  # several progress intervals (0.5 s), even on a loaded machine
        return x

    pipeline = Pipeline([
        Node(slow, "source", "middle", name="slow"),
        Node(slow, "middle", "end", name="after"),
    ])  # fmt: skip
    from kedro_datasets.json import JSONDataset

    catalog = DataCatalog(datasets={
        "source": MemoryDataset(1), "middle": JSONDataset(filepath=str(tmp_path / "m.json")),
    })  # fmt: skip
    runner = DaskRunner(n_workers=1, dashboard_address=":0", progress_interval=0.5)
    with caplog.at_level(logging.INFO, logger="cifar100_kedro.runners.dask_runner"):
        runner.run(pipeline, catalog)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Dask: 1 workers, dashboard http://") for m in messages)
    assert "Dask progress: 0 nodes done, 1 running (slow), 1 waiting" in messages
    assert "Dask progress: 1 nodes done, 1 running (after), 0 waiting" in messages


def test_a_failing_node_raises_its_own_error_in_the_driver(tmp_path):
    _, _, fail = _toy_functions()
    pipeline = Pipeline([Node(fail, "source", "never", name="fail")])
    runner = DaskRunner(n_workers=1, retries=0, dashboard_address=None)
    with pytest.raises(ValueError, match="bad value 3"):
        runner.run(pipeline, DataCatalog(datasets={"source": MemoryDataset(3)}))


ARCHITECTURES = ["chavez_m1", "chavez_m2", "chavez_m3"]
TABLES = ["classification_report.csv", "confusion_matrix.csv", "coarse_confusion_matrix.csv"]
TIMINGS = {"training_seconds", "seconds", "cpu_seconds"}  # wall and CPU time differ, rightly


def _metrics(project, namespace):
    metrics = json.loads((project / f"data/08_reporting/{namespace}/metrics.json").read_text())
    return {key: value for key, value in metrics.items() if key not in TIMINGS}


def _history(project, namespace):
    import pandas as pd

    history = pd.read_csv(project / f"data/07_model_output/{namespace}/history.csv")
    return history.drop(columns=sorted(TIMINGS & set(history.columns)))


@pytest.mark.slow
def test_training_and_reporting_write_the_same_metrics_as_the_sequential_runner(tmp_path):
    """device.deterministic: three architectures trained and reported by both runners."""
    params = {"device": {"deterministic": True}}
    runs = {}
    for name, runner in (
        ("sequential", None),
        ("dask", DaskRunner(n_workers=2, dashboard_address=None)),
    ):
        project = copy_project(tmp_path / name)
        run_session(project, ["data_processing"], runner=runner)
        run_session(
            project, ["training", "reporting"], runtime_params=params,
            namespaces=ARCHITECTURES, runner=runner,
        )  # fmt: skip
        runs[name] = project
    sequential, dask = runs["sequential"], runs["dask"]
    for namespace in ARCHITECTURES:
        assert _metrics(dask, namespace) == _metrics(sequential, namespace), namespace
        assert _history(dask, namespace).equals(_history(sequential, namespace)), namespace
        for table in TABLES:
            path = f"data/08_reporting/{namespace}/{table}"
            assert (dask / path).read_text() == (sequential / path).read_text(), path
