"""Heatmap of paper 003's Table II (and of the same table with the corrected variance)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


def _draw_bounds(ax, bounds: pd.DataFrame, optimal: pd.Series, title: str) -> None:
    values = bounds.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    reach = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-6)
    image = ax.imshow(values, cmap="RdBu", norm=TwoSlopeNorm(vcenter=0.0, vmin=-reach, vmax=reach))
    names = list(bounds.columns)
    size = len(names)
    font = max(5, min(9, int(70 / max(size, 1))))
    ax.set_xticks(range(size), names, rotation=45, ha="right", fontsize=font)
    ax.set_yticks(range(size), names, fontsize=font)
    ax.set_xlabel("column model")
    ax.set_ylabel("row model")
    for i in range(size):
        for j in range(size):
            colour = "white" if abs(values[i, j]) > 0.6 * reach else "black"
            ax.text(
                j, i, f"{values[i, j]:.4f}", ha="center", va="center", fontsize=font, color=colour
            )
    for i, row in enumerate(bounds.index):
        j = names.index(optimal[row])
        ax.add_patch(
            Rectangle(
                (j - 0.44, i - 0.44), 0.88, 0.88, fill=False, edgecolor="black", linewidth=2.5
            )
        )
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(
        image,
        ax=ax,
        fraction=0.046,
        pad=0.04,
        label="upper bound of accuracy(row) − accuracy(column)",
    )


def plot_confidence_bounds(
    paper_bounds: pd.DataFrame,
    paper_optimal: pd.Series,
    corrected_bounds: pd.DataFrame,
    corrected_optimal: pd.Series,
    confidence: float,
    folds: int,
) -> Figure:
    """Two heatmaps side by side: paper 003's Table II and our corrected-variance version.

    Each cell is ``p + t·s`` for accuracy(row) − accuracy(column); the boxed cell of each row
    is that row's optimal model (smallest value). Negative (red) cells: the column model is
    better than the row model at the one-sided ``confidence`` level.
    """
    size = len(paper_bounds)
    side = max(4.5, 0.9 * size + 2.5)
    figure = Figure(figsize=(2 * side + 1, side), layout="constrained")
    left, right = figure.subplots(1, 2)
    level = f"{100 * confidence:g}%"
    _draw_bounds(
        left,
        paper_bounds,
        paper_optimal,
        f"Paper 003 Table II (eq. 3), K={folds}, one-sided {level}\n□ = optimal model per row",
    )
    _draw_bounds(
        right,
        corrected_bounds,
        corrected_optimal,
        f"Our addition: Nadeau–Bengio corrected variance, K={folds}, {level}\n"
        "□ = optimal model per row",
    )
    return figure
