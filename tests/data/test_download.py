"""Download against a local HTTP server on 127.0.0.1: success, checksum mismatch,
interrupted transfer, reuse of a verified file."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from cifar100_kedro.data.download import ChecksumError, download_archive

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if self.path == "/interrupted":
            # Promise the whole file, send a third, then hang up.
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(PAYLOAD)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_verifies_and_writes_atomically(server, tmp_path):
    target = tmp_path / "raw" / "cifar-100-python.tar.gz"
    assert download_archive(f"{server}/archive", target, PAYLOAD_MD5) == target
    assert target.read_bytes() == PAYLOAD
    assert _leftovers(target.parent) == [target.name]


def test_verified_file_is_reused_without_network(tmp_path):
    target = tmp_path / "cifar-100-python.tar.gz"
    target.write_bytes(PAYLOAD)
    # An unreachable URL proves nothing is fetched.
    assert download_archive("http://127.0.0.1:9/never", target, PAYLOAD_MD5) == target


def test_checksum_mismatch_discards_the_download(server, tmp_path):
    target = tmp_path / "cifar-100-python.tar.gz"
    with pytest.raises(ChecksumError, match="expected 0{32}.*discarded.*copy it to"):
        download_archive(f"{server}/archive", target, "0" * 32)
    assert _leftovers(tmp_path) == []


def test_interrupted_transfer_leaves_nothing_and_explains_offline_route(server, tmp_path):
    target = tmp_path / "cifar-100-python.tar.gz"
    with pytest.raises(ConnectionError, match=r"Could not download .*interrupted.*by hand"):
        download_archive(f"{server}/interrupted", target, PAYLOAD_MD5)
    assert _leftovers(tmp_path) == []


def test_http_error_names_url_and_offline_route(server, tmp_path):
    with pytest.raises(ConnectionError, match=r"/missing.*404.*by hand \(md5"):
        download_archive(f"{server}/missing", tmp_path / "a.tar.gz", PAYLOAD_MD5)


def test_existing_file_with_wrong_checksum_is_not_trusted(tmp_path):
    target = tmp_path / "cifar-100-python.tar.gz"
    target.write_bytes(b"not the archive")
    with pytest.raises(ChecksumError, match="cifar-100-python.tar.gz: md5 is .*delete it"):
        download_archive("http://127.0.0.1:9/never", target, PAYLOAD_MD5)
