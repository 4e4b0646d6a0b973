"""Export nodes: one architecture's model to SavedModel, ONNX and LiteRT/TFLite, each checked
against the ``.keras`` model on the test set and timed; one table across architectures."""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cifar100_kedro.datasets.exported_model_dataset import EXPORT_FORMATS, ExportResult
from cifar100_kedro.inference import InferenceError, KerasPredictor, load_predictor_from_path
from cifar100_kedro.pipelines.export import converters

logger = logging.getLogger(__name__)

REPORT_COLUMNS = [
    "namespace", "format", "status", "test_images", "agreement", "max_abs_probability_difference",
    "size_mb", "single_image_per_s", "batch_images_per_s", "export_seconds", "note",
]  # fmt: skip


def _wanted(namespace: str, export: dict[str, Any]) -> str:
    """Why ``namespace`` is not exported (empty string: it is)."""
    chosen = export.get("architectures")
    if chosen is not None and namespace not in chosen:
        return "not in export.architectures"
    return ""


def _convert(fmt: str, convert, *args) -> ExportResult:
    start = time.perf_counter()
    try:
        artifact = convert(*args)
    # Converters raise anything (ConverterError, ValueError, tf2onnx's own): each is a row of
    # the table, not a crash.
    except Exception as exc:  # noqa: BLE001
        return ExportResult(fmt, reason=converters.failure_reason(exc))
    return ExportResult(fmt, artifact=artifact, seconds=time.perf_counter() - start)


def export_model(
    model: Any, export: dict[str, Any], namespace: str
) -> tuple[ExportResult, ExportResult, ExportResult]:
    """Export ``model`` (inference mode) as a SavedModel, ONNX and LiteRT/TFLite.

    Args:
        model: the trained Keras model, or ``None`` if ``namespace`` has not been trained.
        export: the ``export`` parameters (``formats``, ``onnx_opset``, ``tflite_select_tf_ops``).
        namespace: the architecture (bound in the pipeline).

    Returns:
        One :class:`ExportResult` per format (saved_model, onnx, tflite); a format that failed
        has no artifact and says why; one not tried (architecture not trained or not in
        ``export.architectures``, format not in ``export.formats``) is ``skipped``, which
        leaves an earlier export of it in place.
    """
    skip = "not trained" if model is None else _wanted(namespace, export)
    formats = export.get("formats") or EXPORT_FORMATS
    if skip:
        return tuple(ExportResult(f, reason=skip, skipped=True) for f in EXPORT_FORMATS)  # type: ignore
    logger.info("%s: exporting to %s", namespace, ", ".join(formats))
    results = {
        "saved_model": _convert("saved_model", converters.saved_model_archive, model),
    }
    frozen = _convert("frozen", converters.frozen_function, model)
    for fmt, convert, option in (
        ("onnx", converters.to_onnx, export.get("onnx_opset")),
        ("tflite", converters.to_tflite, bool(export.get("tflite_select_tf_ops", False))),
    ):
        if frozen.artifact is None:
            results[fmt] = ExportResult(fmt, reason=f"freezing the graph failed: {frozen.reason}")
        else:
            results[fmt] = _convert(fmt, convert, frozen.artifact, option)
            if results[fmt].seconds is not None and frozen.seconds is not None:
                results[fmt].seconds += frozen.seconds
    for fmt in EXPORT_FORMATS:
        if fmt not in formats:
            results[fmt] = ExportResult(fmt, reason="not in export.formats", skipped=True)
        elif results[fmt].artifact is None:
            logger.warning("%s: %s export failed: %s", namespace, fmt, results[fmt].reason)
    return results["saved_model"], results["onnx"], results["tflite"]


def _predict_all(predictor, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate(
        [predictor.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    )


def _images_per_second(predictor, images: np.ndarray, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        predictor.predict(images)
    start = time.perf_counter()
    for _ in range(runs):
        predictor.predict(images)
    return runs * len(images) / (time.perf_counter() - start)


def _size_mb(path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return path.stat().st_size / 1e6


def _speed(predictor, images: np.ndarray, speed: dict[str, Any]) -> dict[str, float]:
    warmup = int(speed.get("warmup", 2))
    batch = images[: int(speed.get("batch_size", 64))]
    return {
        "single_image_per_s": _images_per_second(
            predictor, images[:1], int(speed.get("single_image_runs", 50)), warmup
        ),
        "batch_images_per_s": _images_per_second(
            predictor, batch, int(speed.get("batch_runs", 5)), warmup
        ),
    }


def evaluate_exports(
    model: Any,
    saved_model: ExportResult,
    onnx_model: ExportResult,
    tflite_model: ExportResult,
    test_split: dict[str, np.ndarray],
    export: dict[str, Any],
    namespace: str,
) -> pd.DataFrame:
    """Each export against the ``.keras`` model on the test images: agreement of predicted
    classes, max absolute probability difference, size, single-image and batch images/s.

    Returns one row per format (the ``keras`` row is the reference); an empty table when
    ``namespace`` was not exported.
    """
    if model is None or _wanted(namespace, export):
        return pd.DataFrame(columns=REPORT_COLUMNS)
    evaluation, speed = export.get("evaluation", {}), export.get("speed", {})
    images = np.asarray(test_split["images"])[: evaluation.get("images") or None]
    batch_size = int(evaluation.get("batch_size", 256))
    threads = speed.get("threads") or os.cpu_count()
    reference = KerasPredictor(model, namespace)
    expected = _predict_all(reference, images, batch_size)
    rows = [{"format": "keras", "status": "reference", **_speed(reference, images, speed)}]
    formats = export.get("formats") or EXPORT_FORMATS
    for result in (saved_model, onnx_model, tflite_model):
        row: dict[str, Any] = {"format": result.format}
        if result.format not in formats:  # an earlier run's file may be there: not this model's
            rows.append({**row, "status": "not exported", "note": "not in export.formats"})
            continue
        if not result.ok:
            rows.append({**row, "status": "not exported", "note": result.reason})
            continue
        try:
            predictor = load_predictor_from_path(result.path, namespace, threads=threads)
            got = _predict_all(predictor, images, batch_size)
        except (InferenceError, RuntimeError, ValueError) as exc:
            note = f"exported, but does not run: {converters.failure_reason(exc)}"
            rows.append({**row, "status": "failed", "note": note})
            continue
        agreement = float(np.mean(got.argmax(1) == expected.argmax(1)))
        rows.append({
            **row,
            "status": "ok",
            "agreement": agreement,
            "max_abs_probability_difference": float(np.max(np.abs(got - expected))),
            "size_mb": _size_mb(result.path),
            "export_seconds": result.seconds,
            "note": "" if agreement == 1.0 else _disagreement_note(got, expected),
            **_speed(predictor, images, speed),
        })  # fmt: skip
        logger.info("%s: %s agrees with .keras on %.2f %% of %d test images",
                    namespace, result.format, 100 * agreement, len(images))  # fmt: skip
    table = pd.DataFrame(rows)
    table.insert(0, "namespace", namespace)
    table["test_images"] = len(images)
    return table.reindex(columns=REPORT_COLUMNS)


def _disagreement_note(got: np.ndarray, expected: np.ndarray) -> str:
    """Why classes can differ: near-ties in the reference, which float rounding flips."""
    differ = got.argmax(1) != expected.argmax(1)
    top2 = np.sort(expected[differ], axis=1)[:, -2:]
    margin = float(np.max(top2[:, 1] - top2[:, 0])) if differ.any() else 0.0
    return (
        f"{int(differ.sum())} image(s) differ, each a near-tie in the .keras model (top-2 "
        f"probabilities at most {margin:.2g} apart): float rounding order, not a wrong graph"
    )


def export_table(**reports: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Every exported architecture's rows in one table, and the same as Markdown.

    Args:
        **reports: ``namespace → evaluate_exports`` table (empty for those not exported).
    """
    parts = [r for r in reports.values() if r is not None and not r.empty]
    table = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REPORT_COLUMNS)
    )
    skipped = sorted(name for name, r in reports.items() if r is None or r.empty)
    return table, _markdown(table, skipped)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    except OSError:
        names = []
    return names[0] if names else (platform.processor() or platform.machine())


def _markdown(table: pd.DataFrame, skipped: Sequence[str]) -> str:
    def fmt(value, spec):
        return "" if pd.isna(value) else format(value, spec)

    lines = [
        "# Exported models",
        "",
        (
            f"Machine: {_cpu_name()}, {os.cpu_count()} CPU core(s), {platform.system()}. "
            "Agreement: predicted classes equal to the "
            "`.keras` model's on the test images; speeds on this CPU (single image: batch of 1)."
        ),
        "",
        (
            "| namespace | format | status | agreement | max abs prob. diff | size (MB) "
            "| 1 image/s | batch images/s | note |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        lines.append(
            f"| {row.namespace} | {row.format} | {row.status} | "
            f"{fmt(row.agreement * 100 if pd.notna(row.agreement) else row.agreement, '.2f')}"
            f"{'' if pd.isna(row.agreement) else ' %'} | "
            f"{fmt(row.max_abs_probability_difference, '.1e')} | {fmt(row.size_mb, '.1f')} | "
            f"{fmt(row.single_image_per_s, '.0f')} | {fmt(row.batch_images_per_s, '.0f')} | "
            f"{'' if pd.isna(row.note) else row.note} |"
        )
    if skipped:
        names = ", ".join(skipped)
        lines += ["", f"Not exported (not trained, or not in `export.architectures`): {names}."]
    return "\n".join(lines) + "\n"
