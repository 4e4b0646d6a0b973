"""Time to accuracy: first epoch, wall and CPU seconds at each target, on known histories."""

from __future__ import annotations

import pandas as pd
import pytest

from cifar100_kedro.pipelines.reporting.time_to_accuracy import (
    collect_histories,
    plot_accuracy_vs_training_time,
    time_to_accuracy_table,
)

PARAMS = {"targets": [50, 30, 70]}


def _history(accuracies, seconds, cpu_seconds=None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "epoch": range(1, len(accuracies) + 1),
            "val_accuracy": accuracies,
            "seconds": seconds,
        }
    )
    if cpu_seconds is not None:
        frame["cpu_seconds"] = cpu_seconds
    return frame


def test_first_epoch_and_cumulative_times_at_each_target() -> None:
    histories = collect_histories(
        fast=_history([0.35, 0.55, 0.65], [10.0, 10.0, 10.0], [15.0, 16.0, 17.0]),
        slow=_history([0.31, 0.4], [100.0, 50.0]),  # an older history without CPU times
        missing=None,  # its pipeline has not run
    )
    assert list(histories) == ["fast", "slow"]
    table = time_to_accuracy_table(histories, PARAMS).set_index(["model", "target accuracy (%)"])

    fast_50 = table.loc[("fast", 50.0)]
    assert fast_50["reached"] and fast_50["epochs"] == 2
    assert fast_50["wall seconds"] == pytest.approx(20.0)
    assert fast_50["cpu seconds"] == pytest.approx(31.0)
    assert table.loc[("fast", 30.0), "epochs"] == 1
    assert not table.loc[("fast", 70.0), "reached"]
    assert pd.isna(table.loc[("fast", 70.0), "wall seconds"])
    assert table.loc[("fast", 70.0), "best accuracy (%)"] == pytest.approx(65.0)

    slow_30 = table.loc[("slow", 30.0)]
    assert slow_30["reached"] and slow_30["wall seconds"] == pytest.approx(100.0)
    assert pd.isna(slow_30["cpu seconds"])
    assert not table.loc[("slow", 50.0), "reached"]
    # Targets sorted, every model × target once.
    assert len(table) == 6


@pytest.mark.parametrize("targets", [[], [0], [101], ["50"], None, [True]])
def test_bad_targets_name_the_parameter(targets) -> None:
    with pytest.raises(ValueError, match="reporting.time_to_accuracy.targets"):
        time_to_accuracy_table({"a": _history([0.5], [1.0])}, {"targets": targets})


def test_the_chart_has_a_line_per_model_and_a_dotted_line_per_target() -> None:
    histories = {
        "a": _history([0.2, 0.6], [60.0, 60.0]),
        "b": _history([0.1, 0.3, 0.5], [30.0, 30.0, 30.0]),
    }
    figure = plot_accuracy_vs_training_time(histories, PARAMS)
    ax = figure.axes[0]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert [line.get_label() for line in solid] == ["a", "b"]
    assert list(solid[0].get_xdata()) == pytest.approx([1.0, 2.0])  # minutes, cumulative
    assert list(solid[1].get_ydata()) == pytest.approx([10.0, 30.0, 50.0])
    assert len(dotted) == 3
