"""Verified downloads: every remote file has a canonical URL and a sha256."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ChecksumError(RuntimeError):
    """A downloaded file does not have the expected sha256."""


class DownloadError(OSError):
    """A file could not be fetched: no network, a refused connection, an HTTP error, no such
    local file. The message says which source failed and why, in one line."""


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


def as_url(source: str) -> str:
    """``source`` as a URL: a URL (``scheme://...``) as it is, a local path as a ``file://`` URL
    (users behind a firewall fetch the file elsewhere and give its path)."""
    if "://" in source:
        return source
    return Path(source).expanduser().resolve().as_uri()


def download(remote: RemoteFile, dest: Path, url: str | None = None, timeout_s: float = 60) -> Path:
    """Download ``remote`` to ``dest`` atomically, verifying its sha256.

    Args:
        remote: what to fetch.
        dest: the file to write (its folder is created).
        url: override the URL (a mirror, a local server in tests, or a local file: a
            ``file://`` URL or a plain path).
        timeout_s: socket timeout.

    Raises:
        ChecksumError: the bytes received are not the expected file (nothing is written).
        DownloadError: the source cannot be read (offline, unreachable, HTTP error, no such
            file; nothing is written).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = url or remote.url
    log.info("downloading %s from %s", remote.name, source)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(as_url(source), timeout=timeout_s) as resp,
            ):
                shutil.copyfileobj(resp, out)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # a URLError (an OSError) wraps the cause; an HTTPError's own text names the status
            reason: object = exc
            if isinstance(exc, urllib.error.URLError) and not isinstance(
                exc, urllib.error.HTTPError
            ):
                reason = exc.reason
            hint = (
                ""
                if as_url(source).startswith("file:")
                else "; if this machine is offline, fetch the file elsewhere and give its "
                "local path instead of the URL"
            )
            raise DownloadError(
                f"{remote.name}: cannot download {source}: "
                f"{str(reason) or type(exc).__name__}{hint}"
            ) from exc
        got = sha256_of(tmp)
        if got != remote.sha256:
            raise ChecksumError(
                f"{remote.name}: sha256 mismatch (expected {remote.sha256}, got {got}); "
                "the download is corrupt or the source changed (nothing was kept)"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
