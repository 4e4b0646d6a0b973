"""Per-architecture figures. Each function returns a ``matplotlib.figure.Figure``.

Figures are built with the object-oriented API (``Figure(...)``, no pyplot global state), so
nothing leaks between nodes; kedro-datasets' ``MatplotlibDataset`` saves them as PNG.
Sizes scale with the number of classes, so 5, 20 and 100 classes all stay legible.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.textpath import TextPath

from cifar100_kedro.pipelines.reporting.metrics import (
    _check_mapping,
    label_mode_of,
    model_name_of,
)

CORRECT_COLOUR = "#1a7f37"
WRONG_COLOUR = "#cf222e"


def pretty(name: str) -> str:
    """Class names as people read them: ``maple_tree`` → ``maple tree``."""
    return str(name).replace("_", " ")


def _counts_from_table(table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    names = [str(c) for c in table.columns[1:]]
    counts = table.iloc[:, 1:].to_numpy(dtype=np.int64)
    if counts.shape != (len(names), len(names)):
        raise ValueError(f"confusion matrix table must be square, got shape {counts.shape}")
    return counts, names


def row_normalise(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total (share of each true class); empty rows stay zero."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _fit_title(text: str, width_points: float, fontsize: int) -> tuple[str, int]:
    """``text`` and a font size (``fontsize`` down to 12) at which every line renders at most
    ``width_points`` wide; lines still too wide at 12 pt are wrapped at spaces."""

    def fits(line: str, size: float) -> bool:
        return TextPath((0, 0), line, size=size).get_extents().width <= width_points

    lines = text.split("\n")
    for size in range(fontsize, 11, -1):
        if all(fits(line, size) for line in lines):
            return text, size
    size = min(fontsize, 12)
    wrapped = []
    for line in lines:
        per_line = len(line)
        while per_line > 20 and not all(fits(part, size) for part in textwrap.wrap(line, per_line)):
            per_line -= 1
        wrapped.append(textwrap.fill(line, per_line) if per_line < len(line) else line)
    return "\n".join(wrapped), size


def confusion_matrix_figure(
    counts: np.ndarray,
    names: Sequence[str],
    title: str,
    groups: Sequence[int] | None = None,
    group_names: Sequence[str] | None = None,
) -> Figure:
    """Row-normalised confusion matrix with every class named on both axes.

    With ``groups`` (a group index per class, e.g. the superclass of each fine class), classes
    are ordered by group and the group boundaries drawn, so within-superclass confusions show
    as blocks on the diagonal.
    """
    counts = np.asarray(counts)
    n = len(names)
    order = np.arange(n)
    if groups is not None:
        order = np.argsort(np.asarray(groups), kind="stable")
    shares = row_normalise(counts)[np.ix_(order, order)]
    labels = [pretty(names[i]) for i in order]

    cell = 0.28 if n > 30 else 0.55
    side = max(7.0, n * cell + 3.5)
    tick_font = 7 if n > 50 else (9 if n > 10 else 11)
    extra = (3.0 if n > 30 else 2.5) if groups is not None and group_names is not None else 1.2
    width = side + extra
    fig = Figure(figsize=(width, side), dpi=100, layout="compressed")
    # Few classes make a narrow figure: shrink the title (down to 12 pt) and, if still too
    # wide, wrap it, so it is never clipped at the figure's edges (it is centred on the axes,
    # which sit left of the colour bar, hence only 3/4 of the width).
    title, title_font = _fit_title(str(title), 0.75 * width * 72, min(tick_font + 7, 15))
    ax = fig.add_subplot()
    # A square-root colour scale keeps the small off-diagonal confusions visible.
    image = ax.imshow(
        shares, cmap="Blues", norm=PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0), interpolation="nearest"
    )
    ax.set_xticks(np.arange(n), labels=labels, rotation=90, fontsize=tick_font)
    ax.set_yticks(np.arange(n), labels=labels, fontsize=tick_font)
    ax.set_xlabel("predicted class", fontsize=tick_font + 5)
    ax.set_ylabel("true class", fontsize=tick_font + 5)
    ax.set_title(title, fontsize=title_font, pad=12)
    ax.tick_params(axis="x", top=False, bottom=True, labeltop=False)

    if n <= 30:  # annotate each cell with its percentage
        for i in range(n):
            for j in range(n):
                value = shares[i, j]
                if value >= 0.005:
                    ax.text(
                        j,
                        i,
                        f"{100 * value:.0f}",
                        ha="center",
                        va="center",
                        fontsize=tick_font - 1,
                        color="white" if value > 0.5 else "black",
                    )
    if groups is not None:
        sorted_groups = np.asarray(groups)[order]
        edges = np.flatnonzero(np.diff(sorted_groups)) + 0.5
        for edge in edges:
            ax.axhline(edge, color="#888888", linewidth=0.6)
            ax.axvline(edge, color="#888888", linewidth=0.6)
        if group_names is not None:
            secondary = ax.secondary_yaxis("right")
            centres, group_labels = [], []
            for g in np.unique(sorted_groups):
                idx = np.flatnonzero(sorted_groups == g)
                centres.append(idx.mean())
                group_labels.append(pretty(group_names[g]))
            secondary.set_yticks(centres, labels=group_labels, fontsize=tick_font + 2)
            secondary.set_ylabel(
                "superclass (classes grouped by superclass)", fontsize=tick_font + 5
            )
    # With few classes the axes are short: a full-height colour bar and a two-line label keep
    # the label within the bar's length instead of running past the figure's edges.
    small = n <= 15
    colorbar = fig.colorbar(image, ax=ax, shrink=0.9 if small else 0.5, pad=0.02)
    colorbar.set_ticks([0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0])
    colorbar.set_label(
        "share of the true class"
        + ("\n" if small else " ")
        + "(row-normalised; square-root scale)",
        fontsize=min(tick_font + 4, 13),
    )
    colorbar.ax.tick_params(labelsize=tick_font + 2)
    return fig


def plot_confusion_matrix(
    table: pd.DataFrame, label_names: dict[str, Any], training_summary: dict[str, Any]
) -> Figure:
    """The model's own confusion matrix (100 fine classes, or 20 for a coarse-label model)."""
    counts, names = _counts_from_table(table)
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    n = len(names)
    groups = group_names = None
    if mode == "fine" and "fine_to_coarse" in label_names and "coarse" in label_names:
        groups = _check_mapping(label_names["fine_to_coarse"], n, len(label_names["coarse"]))
        group_names = label_names["coarse"]
    kind = "fine classes" if mode == "fine" else "superclasses (model trained on coarse labels)"
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    title = (
        f"{name}: test-set confusion matrix, {n} {kind}\n"
        f"row-normalised (each row: where that true class went); accuracy {100 * accuracy:.1f}% "
        f"on {total} images"
    )
    return confusion_matrix_figure(counts, names, title, groups, group_names)


def plot_coarse_confusion_matrix(table: pd.DataFrame, training_summary: dict[str, Any]) -> Figure:
    """The 20×20 superclass confusion matrix (fine predictions mapped to superclasses)."""
    counts, names = _counts_from_table(table)
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    how = (
        "fine predictions mapped to superclasses"
        if mode == "fine"
        else "model trained on superclass labels"
    )
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    title = (
        f"{name}: test-set superclass confusion matrix ({len(names)} superclasses)\n"
        f"{how}; row-normalised, cells in %; accuracy {100 * accuracy:.1f}%"
    )
    return confusion_matrix_figure(counts, names, title)


def plot_best_worst_classes(table: pd.DataFrame, training_summary: dict[str, Any]) -> Figure:
    """Precision, recall and F1 of the best and worst classes (by F1), as horizontal bars."""
    name = model_name_of(training_summary)
    groups = [g for g in ("best", "worst") if (table["group"] == g).any()]
    height = max(3.0, 0.42 * max((table["group"] == g).sum() for g in groups) + 1.8)
    fig = Figure(figsize=(13, height), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(groups), sharex=True, squeeze=False)[0]
    metrics = [("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1-score", "#55a868")]
    for ax, group in zip(axes, groups):
        rows = table[table["group"] == group]
        if group == "worst":
            rows = rows.iloc[::-1]  # worst at the top
        y = np.arange(len(rows))
        width = 0.26
        for offset, (metric, colour) in zip((-width, 0.0, width), metrics):
            ax.barh(
                y + offset,
                100 * rows[metric].to_numpy(float),
                height=width,
                color=colour,
                label=metric,
            )
        ax.set_yticks(
            y,
            labels=[f"{pretty(c)} (#{r})" for c, r in zip(rows["class"], rows["rank"])],
            fontsize=10,
        )
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% on the test set", fontsize=11)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(f"{len(rows)} {group} classes by F1 (rank in brackets)", fontsize=12)
        if not rows[[m for m, _ in metrics]].to_numpy(float).any():
            # A short run leaves many classes with no hit: the bars are empty, so say why
            # (and that which of the tied classes are shown is the name order's choice).
            ax.text(
                0.5, 0.5, "precision, recall and F1 all 0 %:\nno correct prediction of these "
                "classes\n(ties at 0 ordered by name)", transform=ax.transAxes,
                ha="center", va="center", fontsize=11, color="0.35",
            )  # fmt: skip
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=10)
    fig.suptitle(
        f"{name}: best and worst classes (test set, per-class precision / recall / F1)", fontsize=13
    )
    return fig


def plot_training_curves(history: pd.DataFrame, training_summary: dict[str, Any]) -> Figure:
    """Loss and accuracy per epoch, training vs validation, with the best epoch marked."""
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    required = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    missing = required - set(history.columns)
    if missing:
        raise ValueError(
            f"history for {name!r} lacks column(s) {sorted(missing)}; "
            f"it has {list(history.columns)}"
        )
    epochs = history["epoch"].to_numpy()
    best = training_summary.get("best_epoch")
    fig = Figure(figsize=(13, 5), dpi=100, layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    marker = "o" if len(epochs) <= 30 else None
    for ax, key, label, scale in (
        (ax_loss, "loss", "loss (cross-entropy)", 1.0),
        (ax_acc, "accuracy", "accuracy (%)", 100.0),
    ):
        ax.plot(epochs, scale * history[key], marker=marker, color="#4c72b0", label="training")
        ax.plot(
            epochs,
            scale * history[f"val_{key}"],
            marker=marker,
            color="#dd8452",
            label="validation",
        )
        if best is not None and best in set(epochs.tolist()):
            value = float(history.loc[history["epoch"] == best, f"val_{key}"].iloc[0]) * scale
            ax.axvline(best, color="#555555", linestyle="--", linewidth=1)
            ax.plot(
                [best],
                [value],
                marker="*",
                markersize=15,
                color="#c44e52",
                linestyle="none",
                label=f"best epoch {best}: val {value:.3g}{'%' if scale != 1 else ''}",
            )
        ax.set_xlabel("epoch", fontsize=11)
        ax.set_ylabel(label, fontsize=11)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=10)
        if len(epochs) <= 15:
            ax.set_xticks(epochs)
    ax_loss.set_title("loss", fontsize=12)
    ax_acc.set_title("accuracy", fontsize=12)
    epochs_run = training_summary.get("epochs_run", len(epochs))
    ran = f"{epochs_run} epoch{'' if epochs_run == 1 else 's'} run"
    marked = f", best epoch {best}" if best is not None else ""
    fig.suptitle(f"{name}: training curves ({mode} labels, {ran}{marked})", fontsize=13)
    return fig


def plot_prediction_grid(
    test_split: dict[str, np.ndarray],
    predictions: dict[str, np.ndarray],
    label_names: dict[str, Any],
    training_summary: dict[str, Any],
    reporting: dict[str, Any],
) -> Figure:
    """A grid of test images with true (T) and predicted (P) labels; wrong ones framed in red.

    The images are a seeded random sample (``prediction_grid.rows × cols``, seed
    ``prediction_grid.seed``), the same for every model so grids can be compared side by side.
    """
    name = model_name_of(training_summary)
    mode = label_mode_of(training_summary)
    names = list(label_names[mode])
    grid = reporting.get("prediction_grid", {})
    rows, cols = int(grid.get("rows", 6)), int(grid.get("cols", 6))
    images = np.asarray(test_split["images"])
    labels = np.asarray(predictions["labels"])
    probabilities = np.asarray(predictions["probabilities"])
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"test images have shape {images.shape} but predictions for {name!r} cover labels of "
            f"shape {labels.shape}"
        )
    count = min(rows * cols, len(images))
    rng = np.random.default_rng(int(grid.get("seed", 0)))
    chosen = np.sort(rng.choice(len(images), size=count, replace=False)) if count else []
    rows = max(1, int(np.ceil(count / cols))) if count else 1
    fig = Figure(figsize=(2.3 * cols, 2.55 * rows + 0.8), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    wrong = 0
    for ax in axes:
        ax.set_axis_off()
    for ax, index in zip(axes, chosen):
        true, pred = int(labels[index]), int(probabilities[index].argmax())
        ok = true == pred
        wrong += not ok
        ax.set_axis_on()
        ax.imshow(images[index], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        colour = CORRECT_COLOUR if ok else WRONG_COLOUR
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(1 if ok else 4)
        ax.set_title(
            f"T: {pretty(names[true])}\nP: {pretty(names[pred])} "
            f"({100 * probabilities[index, pred]:.0f}%)" + ("" if ok else "  ✗"),
            fontsize=9,
            color=colour,
        )
    fig.suptitle(
        f"{name}: {count} random test images, true (T) vs predicted (P) {mode} label — "
        f"{wrong} wrong (red frame)",
        fontsize=12,
    )
    return fig
