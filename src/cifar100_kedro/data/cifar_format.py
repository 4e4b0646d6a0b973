"""Reading and writing the official CIFAR-100 *python* archive, safely.

The archive ``cifar-100-python.tar.gz`` holds three pickles under ``cifar-100-python/``:
``train`` and ``test`` (dicts with bytes keys ``data`` (uint8 N×3072, channel-major rows),
``fine_labels``, ``coarse_labels``, ``filenames``, ``batch_label``) and ``meta``
(``fine_label_names``, ``coarse_label_names``).

Pickle runs code by design, so nothing here calls ``pickle.load``: :class:`CifarUnpickler`
admits only the globals the CIFAR files need (numpy array reconstruction and the latin-1
byte decoding that protocol-2 pickles use) and refuses everything else.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np

ARCHIVE_FOLDER = "cifar-100-python"
MEMBERS = ("meta", "train", "test")


class CifarFormatError(ValueError):
    """The archive or one of its pickles is not a valid CIFAR-100 python file."""


def _numpy_reconstruct():
    # numpy moved ``core`` to ``_core`` in 2.0; pickles name either.
    from numpy._core import multiarray  # type: ignore[attr-defined]

    return multiarray._reconstruct


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class CifarUnpickler(pickle.Unpickler):
    """An unpickler that only admits what CIFAR pickles contain."""

    def __init__(self, file: BinaryIO, source: str) -> None:
        # encoding="bytes" is how the Python 2 pickles of the official archive must be read.
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CifarFormatError(
                f"{self._source}: refused to unpickle '{module}.{name}': a CIFAR-100 pickle "
                "only contains arrays, lists, bytes and numbers (the file may be malicious)"
            ) from None


def _safe_member_name(name: str, archive: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith(("/", "\\")):
        raise CifarFormatError(
            f"{archive}: tar member {name!r} has a path that escapes the archive folder; "
            "refusing to read this archive"
        )
    return name


def read_archive(path: str | os.PathLike) -> dict[str, dict[bytes, Any]]:
    """Read ``meta``, ``train`` and ``test`` from a CIFAR-100 python tar.gz.

    Returns ``{"meta": {...}, "train": {...}, "test": {...}}`` with the pickles' own
    (bytes) keys. Raises :class:`CifarFormatError` naming the file for anything malformed.
    """
    archive = str(path)
    if not Path(archive).is_file():
        raise FileNotFoundError(f"CIFAR-100 archive not found: {archive}")
    contents: dict[str, dict[bytes, Any]] = {}
    try:
        # Stream mode: one pass of decompression, each pickle read as its member comes by
        # (random access would decompress the archive twice: once to list, once to read).
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                name = _safe_member_name(member.name, archive)
                parts = PurePosixPath(name).parts
                if not (member.isfile() and len(parts) == 2 and parts[0] == ARCHIVE_FOLDER):
                    continue
                key = parts[1]
                if key not in MEMBERS:
                    continue
                source = f"{archive}:{ARCHIVE_FOLDER}/{key}"
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has a handle
                with handle:
                    try:
                        loaded = CifarUnpickler(io.BufferedReader(handle), source).load()
                    except CifarFormatError:
                        raise
                    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
                        raise CifarFormatError(f"{source}: not a readable pickle ({exc})") from exc
                if not isinstance(loaded, dict):
                    raise CifarFormatError(
                        f"{source}: expected a dict, found {type(loaded).__name__}"
                    )
                contents[key] = loaded
        missing = [m for m in MEMBERS if m not in contents]
        if missing:
            raise CifarFormatError(
                f"{archive}: missing {', '.join(f'{ARCHIVE_FOLDER}/{m}' for m in missing)}; "
                "is this the CIFAR-100 *python* version (cifar-100-python.tar.gz)?"
            )
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CifarFormatError(
            f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc}); "
            "delete it and download it again"
        ) from exc
    return contents


def write_archive(
    path: str | os.PathLike,
    train: dict[bytes, Any],
    test: dict[bytes, Any],
    meta: dict[bytes, Any],
) -> Path:
    """Write an archive in the official layout, atomically (temporary file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        # compresslevel 1: the synthetic archive is regenerated often; size matters less.
        with tarfile.open(tmp_name, mode="w:gz", compresslevel=1) as tar:
            for key, payload in (("meta", meta), ("train", train), ("test", test)):
                blob = pickle.dumps(payload, protocol=2)
                info = tarfile.TarInfo(f"{ARCHIVE_FOLDER}/{key}")
                info.size = len(blob)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(blob))
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
