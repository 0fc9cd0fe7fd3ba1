"""Verified downloads: every remote file has a canonical URL and a sha256."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ChecksumError(RuntimeError):
    """A downloaded file does not have the expected sha256."""


@dataclass(frozen=True)
class RemoteFile:
    """A file with a canonical URL and its sha256; ``relpath`` is its place in a data folder."""

    name: str
    url: str
    sha256: str
    relpath: str
    licence: str
    source: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(remote: RemoteFile, dest: Path, url: str | None = None, timeout_s: float = 60) -> Path:
    """Download ``remote`` to ``dest`` atomically, verifying its sha256.

    Args:
        remote: what to fetch.
        dest: the file to write (its folder is created).
        url: override the URL (a mirror, or a local server in tests).
        timeout_s: socket timeout.

    Raises:
        ChecksumError: the bytes received are not the expected file (nothing is written).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = url or remote.url
    log.info("downloading %s from %s", remote.name, source)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout_s) as resp:
            shutil.copyfileobj(resp, out)
        got = sha256_of(tmp)
        if got != remote.sha256:
            raise ChecksumError(
                f"{remote.name}: sha256 mismatch (expected {remote.sha256}, got {got}); "
                "the download is corrupt or the source changed"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
