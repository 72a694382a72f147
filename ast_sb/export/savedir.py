"""Detecting a stale SpeechBrain ``savedir`` before loading a model.

``Pretrained.from_hparams(source, savedir=...)`` links (or copies) every file
it fetches into ``savedir`` and, on the next call, uses whatever file of that
name is already there. A savedir shared by two models therefore silently
gives the second model the first model's weights. :func:`check_savedir`
compares the files a local source holds with the ones in ``savedir`` and
raises :class:`StaleSavedirError` naming the savedir when any of them points
to (or holds the content of) another source.

Authors
 * ast_sb developers 2026
"""

import filecmp
import os
from typing import Optional

from ast_sb.errors import AudioSpectrogramTransformerError


class StaleSavedirError(AudioSpectrogramTransformerError, RuntimeError):
    """A savedir that holds files of another model than the source."""


def _stale_entry(src: str, dst: str) -> Optional[str]:
    """Why ``dst`` (in savedir) is not ``src`` (in the source), or None."""
    if os.path.islink(dst):
        target = os.path.realpath(dst)
        if not os.path.exists(target):
            return f"a broken link to {os.readlink(dst)}"
        if not os.path.samefile(target, src):
            return f"a link to {target}"
        return None
    if os.path.isfile(dst) and not filecmp.cmp(src, dst, shallow=False):
        return "a file with other content"
    return None


def check_savedir(source: str, savedir: Optional[str]) -> None:
    """Raises if ``savedir`` holds links or files of another source.

    Only local sources (folders) are checked; a missing or empty savedir, or
    a savedir that is the source itself, is fine.

    Arguments
    ---------
    source : str
        The model folder passed to ``from_hparams``.
    savedir : str, optional
        The savedir passed to ``from_hparams``.

    Raises
    ------
    StaleSavedirError
        Naming the savedir, the first stale file and where it points.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> for name in ("model_a", "model_b"):
    ...     os.makedirs(tmp / name)
    ...     _ = (tmp / name / "classifier.ckpt").write_text(name, "utf-8")
    >>> os.makedirs(tmp / "cache")
    >>> os.symlink(tmp / "model_a" / "classifier.ckpt", tmp / "cache" / "classifier.ckpt")
    >>> check_savedir(str(tmp / "model_a"), str(tmp / "cache"))
    >>> check_savedir(str(tmp / "model_b"), str(tmp / "cache"))
    Traceback (most recent call last):
    ...
    ast_sb.export.savedir.StaleSavedirError: Stale savedir ...
    """
    if savedir is None or not os.path.isdir(source):
        return
    if not os.path.isdir(savedir) or os.path.samefile(source, savedir):
        return
    for name in sorted(os.listdir(source)):
        src = os.path.join(source, name)
        dst = os.path.join(savedir, name)
        if not os.path.isfile(src) or not os.path.lexists(dst):
            continue
        reason = _stale_entry(src, dst)
        if reason is not None:
            raise StaleSavedirError(
                f"Stale savedir {savedir}: its {name} is {reason}, not "
                f"{src}. SpeechBrain reuses the files already in a savedir, "
                f"so loading {source} would run another model's weights. "
                "Give each model its own savedir (or none: a local folder is "
                "then read in place), or empty this one."
            )
