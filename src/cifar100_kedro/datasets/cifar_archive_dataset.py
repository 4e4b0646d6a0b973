"""Kedro dataset for the CIFAR-100 python archive, from one of three sources."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

from cifar100_kedro.data.cifar_format import read_archive
from cifar100_kedro.data.download import (
    OFFICIAL_MD5,
    OFFICIAL_URL,
    download_archive,
    verify_md5,
)
from cifar100_kedro.data.synthetic import write_synthetic_archive

logger = logging.getLogger(__name__)

SOURCES = ("download", "synthetic", "local")


class CIFAR100ArchiveDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads ``cifar-100-python.tar.gz`` as ``{"path", "meta", "train", "test"}``.

    ``source`` decides where the archive comes from:

    - ``download``: fetched once from ``url`` into ``filepath``, md5-verified, written
      atomically; a verified file already there (or copied there by hand) is reused.
    - ``synthetic``: generated at ``filepath`` by the project's deterministic generator
      (options in ``synthetic``: ``train_images_per_class``, ``test_images_per_class``,
      ``seed``, ``noise``); regenerated when those options change.
    - ``local``: an existing archive at ``filepath`` (md5 checked when ``md5`` is given).

    The pickles inside are read with a restricted unpickler (see ``data.cifar_format``).
    Read-only: ``save`` is not supported.
    """

    def __init__(
        self,
        filepath: str,
        source: str = "download",
        url: str = OFFICIAL_URL,
        md5: str | None = None,
        synthetic: dict[str, Any] | None = None,
        timeout: float = 60.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if source not in SOURCES:
            raise DatasetError(
                f"CIFAR100ArchiveDataset: unknown source {source!r} for {filepath}; "
                f"choose one of {', '.join(SOURCES)}"
            )
        self._filepath = Path(filepath)
        self._source = source
        self._url = url
        self._md5 = md5 if md5 is not None else (OFFICIAL_MD5 if source == "download" else None)
        self._synthetic = dict(synthetic or {})
        self._timeout = timeout
        self.metadata = metadata

    def _ensure_archive(self) -> Path:
        if self._source == "download":
            return download_archive(self._url, self._filepath, self._md5, timeout=self._timeout)
        if self._source == "synthetic":
            stamp = self._filepath.with_name(self._filepath.name + ".synthetic.json")
            wanted = json.dumps(self._synthetic, sort_keys=True)
            if not (self._filepath.is_file() and stamp.is_file() and stamp.read_text() == wanted):
                logger.info(
                    "Generating synthetic CIFAR-100 archive %s (%s)", self._filepath, wanted
                )
                try:
                    write_synthetic_archive(self._filepath, **self._synthetic)
                except TypeError as exc:
                    raise DatasetError(
                        f"{self._filepath}: bad 'synthetic' options {wanted} ({exc}); allowed: "
                        "train_images_per_class, test_images_per_class, seed, noise"
                    ) from None
                stamp.write_text(wanted)
            return self._filepath
        if not self._filepath.is_file():
            raise DatasetError(
                f"{self._filepath}: local CIFAR-100 archive not found (source: local); "
                "point 'filepath' in the catalog at your copy of cifar-100-python.tar.gz"
            )
        if self._md5:
            verify_md5(self._filepath, self._md5)
        return self._filepath

    def load(self) -> dict[str, Any]:
        path = self._ensure_archive()
        contents = read_archive(path)
        return {"path": str(path), **contents}

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath}: CIFAR100ArchiveDataset is read-only")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        described = {"filepath": str(self._filepath), "source": self._source}
        if self._source == "download":
            described["url"] = self._url
        return described
