"""An exported model (SavedModel folder, ``.onnx`` or ``.tflite`` file), written atomically, or
the reason it could not be exported."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

EXPORT_FORMATS = ("saved_model", "onnx", "tflite")


@dataclass
class ExportResult:
    """What an export node returns for one format.

    ``artifact``: ``bytes`` (ONNX, TFLite) or a ``keras.export.ExportArchive`` (SavedModel),
    ``None`` when the export failed or was not asked for, and then ``reason`` says why.
    ``skipped``: this run did not try the format (architecture not trained or not selected,
    format not asked for), so whatever an earlier run exported stays as it is.
    Loaded back, ``path`` is where the artifact is (``None`` without one).
    """

    format: str
    artifact: Any = None
    reason: str = ""
    seconds: float | None = None
    path: Path | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.artifact is not None or self.path is not None


class ExportedModelDataset(AbstractDataset[ExportResult, ExportResult]):
    """Saves an :class:`ExportResult`; loads it back with ``path`` set (artifact not read).

    Save writes the artifact under a temporary name beside ``filepath`` and renames it into
    place (a SavedModel folder is replaced whole), so a failure never leaves half a model. A
    failed export removes the previous artifact and writes the reason to
    ``<filepath>.unavailable.txt``, which load returns as the result's ``reason``. A skipped
    result changes nothing on disk: exporting some architectures or formats keeps the others'.

    Example catalog entry::

        "{namespace}.onnx_model":
          type: cifar100_kedro.datasets.ExportedModelDataset
          format: onnx
          filepath: data/06_models/{namespace}/export/model.onnx
    """

    def __init__(
        self, filepath: str, format: str, metadata: dict[str, Any] | None = None
    ) -> None:
        if format not in EXPORT_FORMATS:
            raise DatasetError(
                f"{filepath}: format must be one of {EXPORT_FORMATS}, got {format!r}"
            )
        self._path = Path(filepath)
        self._format = format
        self.metadata = metadata

    @property
    def _reason_file(self) -> Path:
        return self._path.with_name(self._path.name + ".unavailable.txt")

    def load(self) -> ExportResult:
        if self._path.exists():
            return ExportResult(self._format, path=self._path)
        if self._reason_file.exists():
            return ExportResult(self._format, reason=self._reason_file.read_text().strip())
        return ExportResult(self._format, reason="never exported")

    def save(self, data: ExportResult) -> None:
        if data.skipped:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        if data.artifact is None:
            self._remove(self._path)
            self._write_atomically(self._reason_file, (data.reason or "not exported") + "\n")
            return
        partial = self._path.with_name(f".{self._path.name}.partial-{os.getpid()}")
        self._remove(partial)
        if self._format == "saved_model":
            data.artifact.write_out(str(partial), verbose=False)
        else:
            partial.write_bytes(data.artifact)
        self._remove(self._path)
        partial.rename(self._path)
        self._reason_file.unlink(missing_ok=True)

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    @staticmethod
    def _write_atomically(path: Path, text: str) -> None:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, path)

    def _exists(self) -> bool:
        return self._path.exists() or self._reason_file.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._path), "format": self._format}
