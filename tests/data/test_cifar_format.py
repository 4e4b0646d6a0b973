"""The archive reader: round trip, restricted unpickling, malformed archives."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cifar100_kedro.data.cifar_format import CifarFormatError, read_archive, write_archive
from cifar100_kedro.data.synthetic import generate_split


def _meta():
    return {b"fine_label_names": [b"a"] * 100, b"coarse_label_names": [b"b"] * 20}


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "cifar-100-python.tar.gz"
    write_archive(path, generate_split(2, seed=0), generate_split(1, seed=1), _meta())
    return path


def _tar_with(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_round_trip_keeps_arrays_and_bytes_keys(small_archive):
    contents = read_archive(small_archive)
    assert set(contents) == {"meta", "train", "test"}
    train = contents["train"]
    assert train[b"data"].dtype == np.uint8 and train[b"data"].shape == (200, 3072)
    assert len(train[b"fine_labels"]) == 200
    assert contents["meta"][b"fine_label_names"][0] == b"a"


def test_write_is_atomic_and_leaves_no_temporary_files(small_archive):
    assert [p.name for p in small_archive.parent.iterdir()] == [small_archive.name]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/cifar100_kedro_pwned",))


def test_pickle_that_executes_code_is_refused_not_run(tmp_path):
    marker = Path("/tmp/cifar100_kedro_pwned")
    marker.unlink(missing_ok=True)
    evil = pickle.dumps({b"data": _Exploit()}, protocol=2)
    good = pickle.dumps(_meta(), protocol=2)
    archive = _tar_with(
        tmp_path / "evil.tar.gz",
        {
            "cifar-100-python/meta": good,
            "cifar-100-python/train": evil,
            "cifar-100-python/test": good,
        },
    )
    with pytest.raises(
        CifarFormatError,
        match=r"evil.tar.gz:cifar-100-python/train: refused to unpickle 'posix.system'",
    ):
        read_archive(archive)
    assert not marker.exists()


def test_member_escaping_the_folder_is_refused(tmp_path):
    archive = _tar_with(
        tmp_path / "escape.tar.gz", {"../../etc/evil": b"x", "cifar-100-python/meta": b""}
    )
    with pytest.raises(CifarFormatError, match="escapes the archive folder"):
        read_archive(archive)


def test_absolute_member_path_is_refused(tmp_path):
    archive = _tar_with(tmp_path / "absolute.tar.gz", {"/tmp/evil": b"x"})
    with pytest.raises(CifarFormatError, match="escapes"):
        read_archive(archive)


@pytest.mark.parametrize("missing", ["meta", "train", "test"])
def test_missing_member_is_named(tmp_path, missing):
    blob = pickle.dumps(_meta(), protocol=2)
    members = {f"cifar-100-python/{m}": blob for m in ("meta", "train", "test") if m != missing}
    archive = _tar_with(tmp_path / "partial.tar.gz", members)
    with pytest.raises(CifarFormatError, match=f"missing cifar-100-python/{missing}"):
        read_archive(archive)


def test_truncated_archive_is_reported_with_its_name(small_archive, tmp_path):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(small_archive.read_bytes()[: small_archive.stat().st_size // 2])
    with pytest.raises(CifarFormatError, match="truncated.tar.gz: truncated or corrupt archive"):
        read_archive(truncated)


def test_not_a_gzip_at_all(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive" * 100)
    with pytest.raises(CifarFormatError, match="junk.tar.gz"):
        read_archive(junk)


def test_corrupt_pickle_inside_valid_tar(tmp_path):
    good = pickle.dumps(_meta(), protocol=2)
    archive = _tar_with(
        tmp_path / "badpickle.tar.gz",
        {
            "cifar-100-python/meta": good,
            "cifar-100-python/train": b"\x80\x02garbage",
            "cifar-100-python/test": good,
        },
    )
    with pytest.raises(CifarFormatError, match="cifar-100-python/train: not a readable pickle"):
        read_archive(archive)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.tar.gz"):
        read_archive(tmp_path / "nowhere.tar.gz")


def test_reads_plain_python2_style_pickles(tmp_path):
    """The official files are Python 2 pickles; keys and names come back as bytes."""
    payload = {
        b"data": np.zeros((1, 3072), np.uint8),
        b"fine_labels": [3],
        b"coarse_labels": [1],
        b"filenames": [b"x.png"],
        b"batch_label": b"training batch 1 of 1",
    }
    blob = pickle.dumps(payload, protocol=2)
    meta = pickle.dumps(_meta(), protocol=2)
    archive = _tar_with(
        tmp_path / "py2.tar.gz",
        {
            "cifar-100-python/meta": meta,
            "cifar-100-python/train": blob,
            "cifar-100-python/test": blob,
        },
    )
    assert read_archive(archive)["train"][b"fine_labels"] == [3]
    # and gzip.open sees a real gzip stream
    with gzip.open(archive) as handle:
        assert handle.read(1)
