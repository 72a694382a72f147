"""A full disk reported as one clear error, and files written whole or not.

Writers fail on a full disk in many voices: ``OSError`` with ``errno``
``ENOSPC`` (or ``EDQUOT``, a full quota) from Python, ``SafetensorError
... No space left on device (os error 28)`` from safetensors, ``unexpected
pos ... vs ...`` (a short write) from torch's zip writer, ``problem writing
element`` (a short write) from numpy, which writes ONNX weights. :func:`is_disk_full`
recognises them, :func:`disk_full_as_error` turns them into
:class:`DiskFullError` naming the path, and :func:`write_file_atomic`
writes a file to a temporary sibling renamed into place, so a full disk
never leaves a 0-byte or truncated output.

Authors
 * ast_sb developers 2026
"""

import contextlib
import errno
import os
import secrets
from typing import Iterator, Union

from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "DiskFullError",
    "disk_full_as_error",
    "disk_full_error",
    "is_disk_full",
    "write_file_atomic",
]

PathLike = Union[str, "os.PathLike[str]"]

#: errno values of a write refused for lack of space.
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)

#: How the libraries without an errno say it (safetensors, torch's writer).
FULL_MESSAGES = (
    "no space left on device",
    "os error 28",
    "disk quota exceeded",
    "unexpected pos",  # torch's zip writer after a short write
    "file write failed",  # torch's zip writer, other versions
    "problem writing element",  # numpy's tofile (ONNX external data)
)


class DiskFullError(AudioSpectrogramTransformerError, OSError):
    """No space left on the device (or quota) of the path being written.

    Example
    -------
    >>> err = DiskFullError(errno.ENOSPC, "No space left on device", "/out")
    >>> isinstance(err, OSError), err.errno == errno.ENOSPC, err.filename
    (True, True, '/out')
    >>> print(err)
    No space left on device
    """

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is a full disk.

    Arguments
    ---------
    err : BaseException
        The error.

    Returns
    -------
    bool

    Example
    -------
    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_disk_full(RuntimeError("unexpected pos 910976 vs 910864"))
    True
    >>> is_disk_full(OSError(errno.EACCES, "Permission denied"))
    False
    """
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in FULL_ERRNOS:
            return True
        text = str(err).lower()
        if any(message in text for message in FULL_MESSAGES):
            return True
        err = err.__cause__ or err.__context__
    return False


def disk_full_error(path: PathLike, err: BaseException) -> DiskFullError:
    """The :class:`DiskFullError` of writing ``path``, caused by ``err``.

    Arguments
    ---------
    path : str or os.PathLike
        What was being written.
    err : BaseException
        The error the writer raised.

    Returns
    -------
    DiskFullError
        Naming ``path`` and the original error.

    Example
    -------
    >>> err = disk_full_error("/out", RuntimeError("unexpected pos 9 vs 8"))
    >>> err.filename
    '/out'
    """
    path = os.path.abspath(os.fspath(path))
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return DiskFullError(
        errno.ENOSPC,
        f"No space left on the device of {path} ({type(err).__name__}: "
        f"{first[:200]}); nothing was written there: free some space or "
        "write elsewhere",
        path,
    )


@contextlib.contextmanager
def disk_full_as_error(path: PathLike) -> Iterator[None]:
    """Context manager: a full-disk error inside becomes :class:`DiskFullError`.

    Arguments
    ---------
    path : str or os.PathLike
        What is being written (named in the error).

    Example
    -------
    >>> with disk_full_as_error("/data/out"):
    ...     raise OSError(errno.ENOSPC, "No space left on device")
    Traceback (most recent call last):
    ...
    ast_sb.disk_space.DiskFullError: No space left on the device of /data/out (OSError: [Errno 28] No space left on device); nothing was written there: free some space or write elsewhere
    """
    try:
        yield
    except DiskFullError:
        raise
    except Exception as err:
        if is_disk_full(err):
            raise disk_full_error(path, err) from err
        raise


def write_file_atomic(path: PathLike, data: Union[bytes, str]) -> str:
    """Writes ``data`` to ``path`` whole, or leaves ``path`` as it was.

    The bytes go to a temporary sibling that is renamed over ``path`` once
    complete; on any error the temporary file is removed, and a full disk
    raises :class:`DiskFullError`.

    Arguments
    ---------
    path : str or os.PathLike
        Output file (its folder is created).
    data : bytes or str
        Content (``str`` is written as UTF-8).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> out = str(getfixture("tmpdir") / "sub" / "result.json")
    >>> _ = write_file_atomic(out, '{"ok": true}')
    >>> open(out).read()
    '{"ok": true}'
    """
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    parent, name = os.path.split(os.path.abspath(path))
    with disk_full_as_error(path):
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{name}.tmp-{secrets.token_hex(6)}")
        try:
            # mode 0o666 less the umask, as open(path, "w") would give
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            with os.fdopen(os.open(tmp, flags, 0o666), "wb") as fout:
                fout.write(data)
                fout.flush()
                os.fsync(fout.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    return path
