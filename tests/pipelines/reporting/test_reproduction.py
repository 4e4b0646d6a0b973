"""The papers' own tables regenerated from our histories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cifar100_kedro.architectures import PAPER_000_TABLE_I
from cifar100_kedro.pipelines.reporting.nodes import paper_000_table_1


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
