"""The papers' own tables regenerated from our results, the paper's number beside ours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def epoch_table(
    history: pd.DataFrame, paper: Mapping[str, Sequence[float]], percent: Sequence[str]
) -> pd.DataFrame:
    """The paper's per-epoch table beside ours: one row per epoch the paper lists.

    Args:
        history: our per-epoch history (``epoch`` 1-based, Keras metric columns).
        paper: ``{"epoch": [...], "<metric>": [...], ...}``, the paper's values.
        percent: the metrics the paper gives in % (ours are fractions in the history).

    Returns:
        Columns ``epoch``, then per metric ``<metric> (paper)``, ``<metric> (ours)``,
        ``<metric> (ours − paper)``; our cells are empty for epochs this run did not reach.
    """
    ours = history.set_index("epoch") if len(history) else pd.DataFrame()
    table = pd.DataFrame({"epoch": list(paper["epoch"])})
    for metric, values in paper.items():
        if metric == "epoch":
            continue
        scale = 100.0 if metric in percent else 1.0
        measured = [
            float(ours.at[e, metric]) * scale if metric in ours and e in ours.index else np.nan
            for e in table["epoch"]
        ]
        table[f"{metric} (paper)"] = list(values)
        table[f"{metric} (ours)"] = np.round(measured, 4)
        table[f"{metric} (ours − paper)"] = np.round(np.asarray(measured) - np.asarray(values), 4)
    return table
