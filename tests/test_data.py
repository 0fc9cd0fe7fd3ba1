"""Verified downloads against a local HTTP server, and the ZINC250k lookup order."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from makeable.data import molecules
from makeable.data.download import ChecksumError, RemoteFile, download


def _remote(payload: bytes, url: str) -> RemoteFile:
    return RemoteFile(
        name="toy",
        url=url,
        sha256=hashlib.sha256(payload).hexdigest(),
        relpath="molecules/toy.smi.gz",
        licence="test",
        source="test",
    )


def test_download_verifies_sha256(http_root, tmp_path):
    root, base = http_root
    payload = gzip.compress(b"CCO\nc1ccccc1\n")
    (root / "toy.smi.gz").write_bytes(payload)
    dest = tmp_path / "data" / "molecules" / "toy.smi.gz"
    download(_remote(payload, f"{base}/toy.smi.gz"), dest)
    assert molecules.read_smiles_file(dest) == ["CCO", "c1ccccc1"]


def test_download_rejects_wrong_bytes(http_root, tmp_path):
    root, base = http_root
    (root / "toy.smi.gz").write_bytes(b"tampered")
    dest = tmp_path / "toy.smi.gz"
    with pytest.raises(ChecksumError):
        download(_remote(b"the real file", f"{base}/toy.smi.gz"), dest)
    assert not dest.exists() and not list(tmp_path.glob("*.part"))


def test_fetch_command_uses_the_real_zinc_entry(http_root, tmp_path, data_dir, monkeypatch):
    """`makeable data fetch zinc250k --url ...` verifies the published sha256."""
    from makeable.cli.main import main

    root, base = http_root
    (root / "zinc.txt.gz").write_bytes((data_dir / "molecules/zinc250k.smi.gz").read_bytes())
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    assert main(["data", "fetch", "zinc250k", "--url", f"{base}/zinc.txt.gz"]) == 0
    monkeypatch.delenv("MAKEABLE_DATA")
    molecules.zinc250k.cache_clear()
    assert len(molecules.zinc250k(require_full=True)) == 249_455
    molecules.zinc250k.cache_clear()


def test_sample_is_used_without_data(monkeypatch, tmp_path):
    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path))
    molecules.zinc250k.cache_clear()
    try:
        assert len(molecules.zinc250k()) == 10_000
        assert "sample" in molecules.zinc250k_source()
        with pytest.raises(FileNotFoundError, match="makeable data fetch"):
            molecules.zinc250k(require_full=True)
    finally:
        molecules.zinc250k.cache_clear()


def test_shipped_novelty_reference_matches_zinc(data_dir):
    from makeable.chem.molecule import canonical_smiles

    ref = molecules.zinc250k_novelty_reference()
    zinc = molecules.read_smiles_file(data_dir / "molecules/zinc250k.smi.gz")
    assert len(ref.hashes) == len(set(zinc))
    assert all(canonical_smiles(s) in ref for s in zinc[::997])
    assert "CCCCCCCCCCCCCCCCCCCCCCCCO" not in ref


@pytest.mark.parametrize(
    "content",
    [b"\x1f\x8b random bytes, not a gzip stream", gzip.compress(b"garbage line\nCCO\n")],
)
def test_damaged_cached_zinc_is_refused_in_one_line(monkeypatch, tmp_path, capsys, content):
    """A cached ZINC250k whose sha256 is not the published one is never used: neither bytes
    that are no gzip (a traceback before) nor a valid gzip of something else (silently used
    before)."""
    from makeable.cli.main import main

    monkeypatch.delenv("MAKEABLE_DATA", raising=False)
    monkeypatch.setenv("MAKEABLE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "cache" / molecules.ZINC250K.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    molecules.zinc250k.cache_clear()
    try:
        with pytest.raises(ChecksumError, match="makeable data fetch zinc250k`"):
            molecules.zinc250k()
        out = tmp_path / "run"
        argv = ["design", "--objective", "qed", "--budget", "10", "--no-progress"]
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"makeable: error: {path} is not the published" in err
        assert not out.exists()
    finally:
        molecules.zinc250k.cache_clear()


def test_damaged_zinc_in_the_data_folder_names_its_dest(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEABLE_DATA", str(tmp_path / "data"))
    path = tmp_path / "data" / molecules.ZINC250K.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"CCO\n"))
    molecules.zinc250k.cache_clear()
    try:
        with pytest.raises(ChecksumError, match=f"fetch zinc250k --dest {tmp_path / 'data'}`"):
            molecules.zinc250k(require_full=True)
    finally:
        molecules.zinc250k.cache_clear()
