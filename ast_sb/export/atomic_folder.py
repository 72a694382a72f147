"""Writing a whole folder so that readers see the old one or the new one.

:func:`atomic_folder` hands out a temporary sibling folder; when the
``with`` block ends without an error, the finished folder is renamed into
place (a rename within one file system is atomic). An error or an
interruption inside the block leaves the target as it was and removes the
temporary folder, so a model folder is never half written or mixed with an
older one; a full disk ends in :class:`ast_sb.disk_space.DiskFullError`
naming the target (after the temporary folder is removed). A non-empty target is refused unless ``overwrite=True``.

Why not a library: the standard library has no folder-level atomic
replace, and the few lines here are the usual write-to-temp-and-rename
recipe.

Authors
 * ast_sb developers 2026
"""

import contextlib
import errno
import os
import secrets
import shutil
from typing import Iterator, Union

from ast_sb.disk_space import (
    disk_full_as_error,
    disk_full_error,
    is_disk_full,
)
from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = ["FolderExistsError", "atomic_folder", "check_output_folder"]

PathLike = Union[str, "os.PathLike[str]"]


class FolderExistsError(AudioSpectrogramTransformerError, FileExistsError):
    """The output folder exists and is not empty (and overwrite is off)."""


def check_output_folder(target: PathLike, overwrite: bool = False) -> str:
    """Checks that ``target`` may be written; returns its absolute path.

    Arguments
    ---------
    target : str or os.PathLike
        Output folder.
    overwrite : bool
        Allow replacing a non-empty folder.

    Returns
    -------
    str
        Absolute path of the target.

    Raises
    ------
    FolderExistsError
        The folder exists, is not empty and ``overwrite`` is False.
    NotADirectoryError
        The target is a file.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "full").mkdir().join("a.txt").write("x")
    >>> check_output_folder(str(tmp / "full"))
    Traceback (most recent call last):
    ...
    ast_sb.export.atomic_folder.FolderExistsError: Output folder ...full is not empty (1 entries); pass overwrite=True (ast-sb: --overwrite) to replace it
    """
    path = os.path.abspath(os.fspath(target))
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"Output path {path} is a file, not a folder")
    if os.path.isdir(path) and not overwrite:
        entries = os.listdir(path)
        if entries:
            raise FolderExistsError(
                f"Output folder {path} is not empty ({len(entries)} "
                "entries); pass overwrite=True (ast-sb: --overwrite) to "
                "replace it"
            )
    return path


@contextlib.contextmanager
def atomic_folder(target: PathLike, overwrite: bool = False) -> Iterator[str]:
    """Context manager: write into a temporary folder, then move it into place.

    Arguments
    ---------
    target : str or os.PathLike
        Final folder. An existing folder is replaced as a whole (no files of
        the old one are kept) when the block succeeds.
    overwrite : bool
        Allow replacing a non-empty folder (checked before and after the
        block).

    Yields
    ------
    str
        The temporary folder to write into (a sibling of ``target``).

    Example
    -------
    >>> out = str(getfixture("tmpdir") / "model")
    >>> with atomic_folder(out) as tmp:
    ...     _ = open(os.path.join(tmp, "weights.bin"), "w").write("1")
    >>> os.listdir(out)
    ['weights.bin']
    >>> with atomic_folder(out, overwrite=True) as tmp:
    ...     _ = open(os.path.join(tmp, "half.bin"), "w").write("1")
    ...     raise RuntimeError("killed while writing")
    Traceback (most recent call last):
    ...
    RuntimeError: killed while writing
    >>> os.listdir(out)  # the old folder, untouched
    ['weights.bin']
    """
    path = check_output_folder(target, overwrite)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.tmp-{secrets.token_hex(6)}")
    with disk_full_as_error(path):
        os.mkdir(tmp)  # honours the umask, unlike tempfile.mkdtemp
    try:
        yield tmp
        check_output_folder(path, overwrite)
        _replace(tmp, path, overwrite)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, Exception) and is_disk_full(err):
            raise disk_full_error(path, err) from err
        raise


#: Errors of ``rename`` onto a folder that is not empty.
_TAKEN = (errno.ENOTEMPTY, errno.EEXIST)

#: Attempts of :func:`_replace` when other writers keep moving the target.
_REPLACE_ATTEMPTS = 20


def _replace(new: str, path: str, overwrite: bool = True) -> None:
    """Renames ``new`` to ``path``, replacing an existing folder.

    Other writers may move ``path`` at the same time (``ast-sb convert``
    run twice): a folder that appears in between is refused with
    :class:`FolderExistsError` unless ``overwrite``, and with
    ``overwrite`` the move is tried again, so that each writer ends with
    its own folder in place or an error of its own.
    """
    parent, name = os.path.split(path)
    for _ in range(_REPLACE_ATTEMPTS):
        try:
            os.rename(new, path)  # onto nothing (or an empty folder)
            return
        except OSError as err:
            if err.errno not in _TAKEN:
                raise
        if not overwrite:  # a non-empty folder appeared meanwhile
            raise FolderExistsError(
                f"Output folder {path} was filled by another writer while "
                "this one was writing; pass overwrite=True (ast-sb: "
                "--overwrite) to replace it"
            )
        old = os.path.join(parent, f".{name}.old-{secrets.token_hex(6)}")
        try:
            os.rename(path, old)
        except FileNotFoundError:
            continue  # another writer moved it first
        try:
            os.rename(new, path)
        except OSError as err:
            if err.errno not in _TAKEN:
                os.rename(old, path)  # put the previous folder back
                raise
            # another writer's folder arrived in between and replaced the
            # one moved aside, which is dropped; this writer tries again
            shutil.rmtree(old, ignore_errors=True)
            continue
        except BaseException:
            os.rename(old, path)  # put the previous folder back
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    raise FolderExistsError(
        f"Output folder {path} kept being replaced by other writers; "
        f"{new} was not moved into place"
    )
