"""Reports across seeds: every run's scores, mean ± Student-t interval, pairwise tests.

An architecture trained with several seeds (``training_run.seeds``: its own namespace with the
first seed, ``<architecture>.seed_<s>`` with each further one) has one test-set evaluation per
seed. A single run is one draw: two runs of one recipe differ by the seed alone. Here:

- :func:`seed_runs_table`: one row per (architecture, seed), the per-seed values;
- :func:`seed_summary_table`: per architecture, the mean, standard deviation (n−1) and a
  Student-t interval of the mean over its seeds (``mean ± t(1−α/2, n−1)·sd/√n``) of accuracy,
  top-k, coarse accuracy and loss; an architecture with one seed gets its value and no interval
  (the bootstrap interval over the test images in its ``metrics.json`` is that run's);
- :func:`seed_pairwise_table`: for every pair of architectures trained on the same seeds (two
  or more, same label mode), **Welch's t-test** on their per-seed accuracies, Holm-adjusted over
  all pairs, with a plain-language verdict. Welch and not a paired test: one seed does not pair
  two architectures' runs (their weights have other shapes, so the same seed draws other initial
  weights, and only the image order is shared), and Welch does not assume equal variances.
  McNemar's test (``mcnemar_*``) stays the test of two single runs on the same test images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cifar100_kedro.seed_axis import architecture_of

RUN_COLUMNS = ["model", "namespace", "seed", "label mode"]


def check_seed_reporting(params: Mapping[str, Any] | None) -> tuple[float, float]:
    """``reporting.seeds``' ``confidence`` and ``alpha``, each in (0, 1), or an error naming it."""
    params = params or {}
    checked = []
    for key, default in (("confidence", 0.95), ("alpha", 0.05)):
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"parameter 'reporting.seeds.{key}' must lie in (0, 1), got {value!r}")
        checked.append(float(value))
    return checked[0], checked[1]


def _top_k_name(metrics: Sequence[Mapping[str, Any]]) -> str:
    k = next((m.get("top_k") for m in metrics if m.get("top_k")), 5)
    return f"top-{k} accuracy"


def _pct(value: Any) -> float:
    return float("nan") if value is None else 100.0 * float(value)


def score_columns(top_k: str = "top-5 accuracy") -> list[tuple[str, str]]:
    """``(name, unit)`` of every score the seed reports summarise."""
    return [("test accuracy", " (%)"), (top_k, " (%)"), ("coarse accuracy", " (%)"),
            ("test loss", "")]  # fmt: skip


def seed_runs_table(
    all_model_metrics: list[dict[str, Any]], all_seed_run_metrics: list[dict[str, Any]]
) -> pd.DataFrame:
    """One row per (architecture, seed): its test-set scores (the per-seed values).

    Args:
        all_model_metrics: every architecture's own run (``collect_metrics``).
        all_seed_run_metrics: the further seeds' runs (``<architecture>.seed_<s>``).
    """
    every = [*all_model_metrics, *all_seed_run_metrics]
    top_k = _top_k_name(every)
    rows = []
    for m in every:
        loss = m.get("loss") if m.get("loss") is not None else m.get("coarse_loss")
        rows.append(
            {
                "model": architecture_of(m["namespace"]),
                "namespace": m["namespace"],
                "seed": m.get("seed"),
                "label mode": m.get("label_mode", "fine"),
                "test accuracy (%)": _pct(m.get("accuracy")),
                f"{top_k} (%)": _pct(m.get("top_k_accuracy")),
                "coarse accuracy (%)": _pct(m.get("coarse_accuracy")),
                "test loss": float("nan") if loss is None else float(loss),
                "training seconds": m.get("training_seconds"),
            }
        )
    columns = [*RUN_COLUMNS, *(f"{n}{u}" for n, u in score_columns(top_k)), "training seconds"]
    table = pd.DataFrame(rows, columns=columns)
    order = {name: i for i, name in enumerate(dict.fromkeys(table["model"]))}
    table["_order"] = table["model"].map(order)
    table = table.sort_values(["_order", "seed"], kind="mergesort").drop(columns="_order")
    return table.astype({"seed": "Int64"}).reset_index(drop=True)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample standard deviation and the Student-t ``confidence`` interval of the mean.

    NaN values (a score a model does not have) are left out; fewer than two values give the
    mean (or NaN) and no spread or interval.
    """
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = data.size
    nan = float("nan")
    if n == 0:
        return {"n": 0, "mean": nan, "sd": nan, "low": nan, "high": nan}
    mean = float(data.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "sd": nan, "low": nan, "high": nan}
    sd = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half}


def seed_summary_table(seed_runs: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Per architecture: seeds, then mean, sd and the Student-t interval of every score."""
    confidence, _ = check_seed_reporting(params)
    top_k = next((c[:-4] for c in seed_runs.columns if c.startswith("top-")), "top-5 accuracy")
    rows = []
    for model, runs in seed_runs.groupby("model", sort=False):
        row: dict[str, Any] = {
            "model": model,
            "label mode": runs["label mode"].iloc[0],
            "seeds": len(runs),
            "seed list": ", ".join(str(s) for s in runs["seed"] if s is not pd.NA),
        }
        for name, unit in score_columns(top_k):
            interval = t_interval(runs[f"{name}{unit}"].astype(float).tolist(), confidence)
            row[f"mean {name}{unit}"] = interval["mean"]
            row[f"sd {name}{unit}"] = interval["sd"]
            row[f"{name} t-CI low{unit}"] = interval["low"]
            row[f"{name} t-CI high{unit}"] = interval["high"]
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table.insert(len(table.columns), "confidence", confidence)
    return table


def welch_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Welch's two-sided t-test of equal means: ``(t, p)``.

    Two sets of identical values (deterministic runs) give ``t = 0, p = 1`` when their means
    are equal and ``t = ±inf, p = 0`` when they differ (scipy returns NaN there).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.std(ddof=1) == 0 and b.std(ddof=1) == 0:
        difference = float(a.mean() - b.mean())
        return (0.0, 1.0) if difference == 0 else (math.copysign(math.inf, difference), 0.0)
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def _verdict(a: str, b: str, row: Mapping[str, Any], alpha: float) -> str:
    higher, shared = row["seeds A higher"], row["shared seeds"]
    means = f"mean {row['mean A (%)']:.2f}% vs {row['mean B (%)']:.2f}%"
    p = f"Welch p = {row['p']:.3g}, Holm-adjusted p = {row['p (Holm)']:.3g}"
    if row["p (Holm)"] < alpha:
        winner, loser = (a, b) if row["mean A (%)"] > row["mean B (%)"] else (b, a)
        wins = higher if winner == a else shared - higher - row["seeds tied"]
        return f"{winner} beats {loser} on {wins} of {shared} seeds ({means}; {p})."
    return (
        f"No significant difference between {a} and {b} at {alpha:g} ({means}; {a} higher on "
        f"{higher} of {shared} seeds; {p})."
    )


PAIRWISE_COLUMNS = [
    "model A", "model B", "label mode", "metric", "shared seeds", "mean A (%)", "mean B (%)",
    "difference (%)", "seeds A higher", "seeds tied", "test", "t", "p", "p (Holm)",
    "significant", "verdict",
]  # fmt: skip


def seed_pairwise_table(seed_runs: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Welch's t-test for every pair trained on the same seeds (two or more, same label mode).

    Fine-label models are compared on test accuracy, superclass models on coarse accuracy.
    p-values are Holm-adjusted over all the pairs in the table (``statsmodels``).
    """
    _, alpha = check_seed_reporting(params)
    per_model = {
        model: runs for model, runs in seed_runs.groupby("model", sort=False) if len(runs) >= 2
    }
    rows = []
    for a, b in combinations(per_model, 2):
        runs_a, runs_b = per_model[a], per_model[b]
        mode = runs_a["label mode"].iloc[0]
        if mode != runs_b["label mode"].iloc[0]:
            continue
        seeds_a, seeds_b = set(runs_a["seed"].dropna()), set(runs_b["seed"].dropna())
        if seeds_a != seeds_b:
            continue
        metric = "test accuracy (%)" if mode == "fine" else "coarse accuracy (%)"
        by_seed_a = runs_a.set_index("seed")[metric].astype(float)
        by_seed_b = runs_b.set_index("seed")[metric].astype(float)
        order = sorted(seeds_a)
        va, vb = by_seed_a.loc[order].to_numpy(), by_seed_b.loc[order].to_numpy()
        t, p = welch_test(va, vb)
        rows.append(
            {
                "model A": a, "model B": b, "label mode": mode, "metric": metric,
                "shared seeds": len(order), "mean A (%)": float(va.mean()),
                "mean B (%)": float(vb.mean()), "difference (%)": float(va.mean() - vb.mean()),
                "seeds A higher": int((va > vb).sum()), "seeds tied": int((va == vb).sum()),
                "test": "Welch's t-test (two-sided)", "t": t, "p": p,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    if table.empty:
        return table
    table["p (Holm)"] = multipletests(table["p"].to_numpy(float), method="holm")[1]
    table["significant"] = table["p (Holm)"] < alpha
    table["verdict"] = [_verdict(r["model A"], r["model B"], r, alpha) for _, r in table.iterrows()]
    return table


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _markdown_table(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    return lines


def seed_report_markdown(
    seed_summary: pd.DataFrame, seed_runs: pd.DataFrame, pairwise: pd.DataFrame
) -> str:
    """The seed reports as one Markdown page: summary, per-seed values, pairwise verdicts."""
    lines = ["# Results across seeds", ""]
    if seed_summary.empty:
        return "\n".join(lines + ["No models were evaluated.", ""])
    confidence = float(seed_summary["confidence"].iloc[0])
    repeated = int((seed_summary["seeds"] >= 2).sum())
    lines += [
        (
            "Each architecture's test-set scores over its seeds: mean, standard deviation and "
            f"a {confidence:.0%} Student-t interval of the mean. {repeated} of "
            f"{len(seed_summary)} architectures have two or more seeds (`training_run.seeds`); "
            "the others show their one run (its bootstrap interval over the test images is in "
            "the comparison table)."
        ),
        "",
        "## Mean over seeds",
        "",
    ]
    top_k = next((c[5:-4] for c in seed_summary.columns if c.startswith("mean top-")), None)
    shown = ["model", "label mode", "seeds", "mean test accuracy (%)", "sd test accuracy (%)",
             "test accuracy t-CI low (%)", "test accuracy t-CI high (%)"]  # fmt: skip
    if top_k:
        shown.append(f"mean {top_k} (%)")
    shown += ["mean coarse accuracy (%)", "coarse accuracy t-CI low (%)",
              "coarse accuracy t-CI high (%)", "mean test loss", "sd test loss"]  # fmt: skip
    lines += _markdown_table(seed_summary, shown)
    lines += ["", "## Every seed", ""]
    lines += _markdown_table(seed_runs, [c for c in seed_runs.columns if c != "training seconds"])
    lines += ["", "## Pairwise tests across seeds", ""]
    if pairwise.empty:
        lines.append(
            "No two architectures share two or more seeds: nothing to test (train with "
            "`training_run.seeds` of two or more)."
        )
    else:
        lines += [
            (
                "Welch's t-test on the per-seed accuracies of every pair trained on the same seeds "
                "(a shared seed does not pair two architectures' runs), Holm-adjusted over the "
                "pairs. McNemar's test of single runs is in `mcnemar_*`."
            ),
            "",
        ]
        lines += [f"- {verdict}" for verdict in pairwise["verdict"]]
    lines.append("")
    return "\n".join(lines)


def plot_seed_accuracies(seed_runs: pd.DataFrame, seed_summary: pd.DataFrame) -> Figure:
    """Every seed's test accuracy (dots) and the mean with its Student-t interval, per model,
    ranked by mean (superclass models by coarse accuracy, after the fine ones)."""
    summary = seed_summary.copy()
    if not summary.empty:
        summary["_fine"] = summary["label mode"] == "fine"
        summary["_key"] = np.where(
            summary["_fine"], summary["mean test accuracy (%)"], summary["mean coarse accuracy (%)"]
        )
        summary = summary.sort_values(["_fine", "_key"], ascending=[False, False], kind="mergesort")
    n = max(1, len(summary))
    figure = Figure(figsize=(10, max(3.5, 0.42 * n + 1.8)), layout="constrained")
    ax = figure.subplots()
    if summary.empty:
        ax.text(0.5, 0.5, "no models evaluated", ha="center", va="center", transform=ax.transAxes)
        return figure
    labels = []
    for y, (_, row) in enumerate(summary.iterrows()):
        fine = row["label mode"] == "fine"
        name = "test accuracy" if fine else "coarse accuracy"
        runs = seed_runs[seed_runs["model"] == row["model"]][f"{name} (%)"].astype(float)
        ax.scatter(runs, np.full(len(runs), y), s=22, color="#4c72b0" if fine else "#55a868",
                   alpha=0.7, zorder=2)  # fmt: skip
        mean, low, high = (row[f"mean {name} (%)"], row[f"{name} t-CI low (%)"],
                           row[f"{name} t-CI high (%)"])  # fmt: skip
        if not math.isnan(low):
            ax.errorbar(mean, y, xerr=[[mean - low], [high - mean]], fmt="|", color="black",
                        capsize=4, markersize=14, zorder=3)  # fmt: skip
        else:
            ax.scatter([mean], [y], marker="|", s=200, color="black", zorder=3)
        suffix = " (20 superclasses)" if not fine else ""
        labels.append(f"{row['model']}{suffix}  [{row['seeds']} seed{'s' * (row['seeds'] > 1)}]")
    ax.set_yticks(np.arange(len(summary)), labels=labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"test accuracy (%): dots = seeds, bar = mean with its "
        f"{float(summary['confidence'].iloc[0]):.0%} Student-t interval"
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Test accuracy across seeds, ranked by mean")
    return figure
