"""Download the official CIFAR-100 archive once: progress, md5 check, atomic write."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
OFFICIAL_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's md5 does not match the expected one."""


def md5_of(path: str | os.PathLike) -> str:
    """md5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`ChecksumError` naming the file when its md5 is not ``expected``."""
    actual = md5_of(path)
    if actual != expected.lower():
        raise ChecksumError(f"{path}: md5 is {actual}, expected {expected}")


def _offline_hint(target: Path, md5: str) -> str:
    return (
        f"Without internet, download cifar-100-python.tar.gz elsewhere and copy it to "
        f"{target} by hand (md5 {md5}); it is then verified and reused."
    )


def download_archive(
    url: str,
    target: str | os.PathLike,
    md5: str,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``target`` unless a verified copy is already there.

    The bytes go to a temporary file beside ``target`` while their md5 is computed; only a
    complete download with the right checksum is renamed into place, so an interrupted or
    corrupted transfer never leaves a file that looks good.
    """
    target = Path(target)
    if target.exists():
        try:
            verify_md5(target, md5)
            logger.info("Reusing verified archive %s", target)
            return target
        except ChecksumError as exc:
            raise ChecksumError(
                f"{exc}. The file already in place is not the official archive: delete it "
                f"to download again, or set the expected md5 in conf."
            ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            logger.info("Downloading %s (%s bytes) to %s", url, total or "unknown", target)
            started, next_report = time.monotonic(), 0.0
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                fraction = received / total if total else 0.0
                if total and fraction >= next_report:
                    elapsed = time.monotonic() - started
                    rate = received / elapsed / 1e6 if elapsed > 0 else 0.0
                    eta = (total - received) / (received / elapsed) if received and elapsed else 0
                    logger.info(
                        "  %5.1f%%  %.1f/%.1f MB  %.1f MB/s  ETA %.0fs",
                        100 * fraction,
                        received / 1e6,
                        total / 1e6,
                        rate,
                        eta,
                    )
                    next_report += 0.1
            if total and received != total:
                raise ConnectionError(f"transfer interrupted after {received} of {total} bytes")
        actual = digest.hexdigest()
        if actual != md5.lower():
            raise ChecksumError(
                f"{url}: downloaded file has md5 {actual}, expected {md5}; it was discarded. "
                + _offline_hint(target, md5)
            )
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except ChecksumError:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ConnectionError(
            f"Could not download {url} ({type(exc).__name__}: {exc}). " + _offline_hint(target, md5)
        ) from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("Downloaded and verified %s", target)
    return target
