"""One HTTP(S) download into a file: timeouts, bounded retries, length check.

:func:`fetch_to_file` is the transfer under :func:`ast_sb.weights.hub.download_url`.
``torch.hub.download_url_to_file`` (used before) has no timeout, so a
server that sends its headers and then stalls blocks forever, and it does
not compare the bytes received with ``Content-Length``, so a truncated body
(a server that closes the connection early, or dies mid-transfer) counts as
a complete file. Here:

* every connect and every read waits at most ``timeout`` seconds
  (a stalled server raises after ``timeout`` seconds of silence);
* a body shorter than its ``Content-Length`` is an
  :class:`IncompleteDownloadError`, as is a broken chunked stream;
* connection errors, timeouts, short bodies and HTTP 408 / 429 / 5xx are
  retried, ``attempts`` times in all, after waits of ``backoff``,
  ``2 * backoff``, ``4 * backoff`` ... seconds (each at most
  :data:`MAX_BACKOFF_S`); other HTTP errors (404, 403, ...) are not.

A body without ``Content-Length`` (and not chunked) ends when the server
closes the connection, so its truncation cannot be seen here: pass a
SHA-256 to :func:`ast_sb.weights.hub.download_url` to catch it.

Authors
 * ast_sb developers 2026
"""

import errno
import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Optional

from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "DownloadError",
    "IncompleteDownloadError",
    "fetch_to_file",
    "file_sha256",
    "git_blob_sha1",
]

logger = logging.getLogger(__name__)

TIMEOUT_S = 60.0
"""Default wait (seconds) for a connection and for each read."""

ATTEMPTS = 4
"""Default number of tries of one download (the first and 3 retries)."""

BACKOFF_S = 1.0
"""Default wait before the first retry; doubled before each next one."""

MAX_BACKOFF_S = 30.0
"""Longest wait between two tries."""

_BLOCK = 1 << 20
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class DownloadError(AudioSpectrogramTransformerError, OSError):
    """A download that failed after its retries (timeout, connection,
    HTTP error, short body).

    Example
    -------
    >>> issubclass(DownloadError, OSError)
    True
    """


class IncompleteDownloadError(DownloadError):
    """A body shorter than the ``Content-Length`` its server announced.

    Example
    -------
    >>> raise IncompleteDownloadError("got 10 of 20 bytes")
    Traceback (most recent call last):
    ...
    ast_sb.weights.download.IncompleteDownloadError: got 10 of 20 bytes
    """


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of a file, read block by block.

    Example
    -------
    >>> path = getfixture("tmpdir") / "x"
    >>> _ = path.write_binary(b"abc")
    >>> file_sha256(str(path))[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        for block in iter(lambda: fin.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: str) -> str:
    """The git object id of a file (SHA-1 of ``blob <size>\\0<bytes>``), the
    ETag the Hugging Face hub announces for files not stored in LFS.

    Example
    -------
    >>> path = getfixture("tmpdir") / "x"
    >>> _ = path.write_binary(b"Hello, World!")
    >>> git_blob_sha1(str(path))  # git hash-object
    'b45ef6fec89518d314f546fd6c3025367b721684'
    """
    digest = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as fin:
        for block in iter(lambda: fin.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _transfer(url: str, dest: str, timeout: float) -> int:
    """One try: writes the body of ``url`` to ``dest``, returns its size."""
    request = urllib.request.Request(url, headers={"User-Agent": "ast_sb"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        with open(dest, "wb") as fout:
            for block in iter(lambda: response.read(_BLOCK), b""):
                fout.write(block)
                received += len(block)
            fout.flush()
            os.fsync(fout.fileno())
    if expected is not None and received != expected:
        raise IncompleteDownloadError(
            f"the server sent {received} of the {expected} bytes it "
            "announced (Content-Length)"
        )
    return received


def _retryable(err: BaseException) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code in _RETRY_STATUS
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return False  # the disk, not the network: a retry cannot help
    return isinstance(
        err, (urllib.error.URLError, http.client.HTTPException, OSError)
    )


def _describe(err: BaseException, timeout: float) -> str:
    reason = getattr(err, "reason", None)
    if isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
        return (
            f"no answer for {timeout:g} s (timeout; the server stalled or "
            "is unreachable)"
        )
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP Error {err.code}: {err.reason}"
    if isinstance(err, http.client.IncompleteRead):
        return "the connection broke in the middle of the body"
    return f"{type(err).__name__}: {err}"


def fetch_to_file(
    url: str,
    dest: str,
    timeout: Optional[float] = None,
    attempts: Optional[int] = None,
    backoff: Optional[float] = None,
) -> int:
    """Downloads ``url`` into ``dest`` (overwritten), checking its length.

    Arguments
    ---------
    url : str
        ``http(s)://`` URL (redirects are followed).
    dest : str
        File to write (the caller moves it into place when complete).
    timeout : float, optional
        Seconds to wait for the connection and for each read (default
        :data:`TIMEOUT_S`).
    attempts : int, optional
        Tries in all, >= 1 (default :data:`ATTEMPTS`).
    backoff : float, optional
        Wait before the first retry, doubled before each next one
        (default :data:`BACKOFF_S`).

    Returns
    -------
    int
        Bytes written.

    Raises
    ------
    DownloadError
        The last try's failure, with the number of tries.

    Example
    -------
    >>> fetch_to_file("http://127.0.0.1:9/w.pth", str(getfixture("tmpdir") /
    ...               "w"), timeout=1, attempts=1)
    Traceback (most recent call last):
    ...
    ast_sb.weights.download.DownloadError: 1 try failed; the last: URLError: ...
    """
    timeout = TIMEOUT_S if timeout is None else float(timeout)
    attempts = ATTEMPTS if attempts is None else int(attempts)
    backoff = BACKOFF_S if backoff is None else float(backoff)
    if not timeout > 0 or attempts < 1 or backoff < 0:
        raise ValueError(
            "timeout must be > 0, attempts >= 1 and backoff >= 0; got "
            f"{timeout}, {attempts}, {backoff}"
        )
    for attempt in range(attempts):
        try:
            return _transfer(url, dest, timeout)
        except Exception as err:  # noqa: BLE001 - classified just below
            if not _retryable(err):
                raise DownloadError(_describe(err, timeout)) from err
            last = err
        if attempt + 1 < attempts:
            wait = min(backoff * 2**attempt, MAX_BACKOFF_S)
            logger.warning(
                "Download of %s failed (%s); try %d of %d in %g s",
                url,
                _describe(last, timeout),
                attempt + 2,
                attempts,
                wait,
            )
            time.sleep(wait)
    tries = f"{attempts} tries" if attempts > 1 else "1 try"
    raise DownloadError(
        f"{tries} failed; the last: {_describe(last, timeout)}"
    ) from last
