"""Crash-safe checkpoints: atomic saves, recovery that skips broken ones.

SpeechBrain's ``Checkpointer`` writes a checkpoint straight into its final
folder ``CKPT+<time>``, meta file (``CKPT.yaml``) first. A process killed
during the save (``kill -9``, out of memory, a preempted job) leaves a
folder that looks like the newest checkpoint but lacks some of the files,
and every restart then fails to load it.

:class:`CrashSafeCheckpointer` hooks that class without rewriting it:

* **atomic saves**: a checkpoint is written into a hidden temporary folder
  (``.partial-CKPT+...``, never listed as a checkpoint), its files are
  flushed to disk, and the folder is renamed to ``CKPT+...`` in one step
  once every process has written its part. A kill at any moment leaves
  either the complete checkpoint or none (leftover temporary folders are
  removed by the next save);
* **recovery skips incomplete checkpoints**: a checkpoint folder whose
  meta file is unreadable, or that lacks the file of a (non-optional)
  recoverable, or whose files fail to load, is skipped with a warning
  naming it, and the newest (or best) complete one is used. Such folders
  come from older code or other tools, or from a kill while SpeechBrain
  deletes an old checkpoint.

:func:`make_crash_safe` turns any ``Checkpointer`` (e.g. one built by a
recipe YAML with ``!new:speechbrain.utils.checkpoints.Checkpointer``) into
a crash-safe one in place; ``AudioSpectrogramTransformerBrain`` calls it on
the checkpointer it is given.

Authors
 * ast_sb developers 2026
"""

import logging
import os
import pathlib
import shutil
from typing import List, Optional

from speechbrain.utils.checkpoints import (
    METAFNAME,
    Checkpoint,
    Checkpointer,
)
from speechbrain.utils.distributed import ddp_barrier, if_main_process

__all__ = ["CrashSafeCheckpointer", "make_crash_safe", "missing_parts"]

logger = logging.getLogger(__name__)

#: Prefix of the temporary folder a checkpoint is written into (it must not
#: start with SpeechBrain's ``CKPT`` so that it is never listed).
PARTIAL_PREFIX = ".partial-"


def missing_parts(
    checkpointer: Checkpointer, checkpoint: Checkpoint
) -> List[str]:
    """Names of the recoverables whose file the checkpoint lacks.

    Optional recoverables and data loaders (which SpeechBrain itself loads
    only if present) are not required. With ``allow_partial_load`` only one
    recoverable's file is required.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        The checkpointer whose recoverables are to be loaded.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The checkpoint (its ``paramfiles``).

    Returns
    -------
    list of str
        Missing (or empty) files' recoverable names; empty if complete.

    Example
    -------
    >>> import torch
    >>> tmp = getfixture("tmpdir")
    >>> ckpter = Checkpointer(tmp, {"model": torch.nn.Linear(2, 2)})
    >>> ckpt = ckpter.save_checkpoint()
    >>> missing_parts(ckpter, ckpt)
    []
    >>> missing_parts(ckpter, Checkpoint(ckpt.path, ckpt.meta, {}))
    ['model']
    """
    present = {
        name
        for name, path in checkpoint.paramfiles.items()
        if os.path.isfile(path) and os.path.getsize(path) > 0
    }
    optional = getattr(checkpointer, "optional_recoverables", {})
    required = [
        name
        for name in checkpointer.recoverables
        if not optional.get(name, False) and "dataloader" not in name
    ]
    if getattr(checkpointer, "allow_partial_load", False):
        if any(name in present for name in checkpointer.recoverables):
            return []
        return required
    return [name for name in required if name not in present]


def _fsync(path: pathlib.Path) -> None:
    """Flushes a file or folder to disk (best effort on folders)."""
    flags = os.O_RDONLY
    if path.is_dir():
        flags |= getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CrashSafeCheckpointer(Checkpointer):
    """A ``Checkpointer`` with atomic saves and a recovery that skips
    incomplete checkpoints (see the module docstring).

    Arguments and use are those of
    ``speechbrain.utils.checkpoints.Checkpointer``.

    Example
    -------
    >>> import torch
    >>> tmp = getfixture("tmpdir")
    >>> model = torch.nn.Linear(2, 2)
    >>> ckpter = CrashSafeCheckpointer(tmp, {"model": model})
    >>> good = ckpter.save_checkpoint(meta={"n": 1})
    >>> sorted(p.name for p in good.path.iterdir())
    ['CKPT.yaml', 'model.ckpt']
    >>> # a folder left by a save killed after its meta file (newer):
    >>> broken = tmp / "CKPT+9999-12-31+23-59-59+00"
    >>> _ = broken.mkdir()
    >>> _ = (broken / "CKPT.yaml").write_text("end-of-epoch: true\\n"
    ...                                      "unixtime: 9.9e10\\n", "utf-8")
    >>> ckpter.recover_if_possible().meta["n"]
    1
    """

    _warned: Optional[set] = None

    # ------------------------------------------------------------------
    # saving
    def _new_checkpoint_dirpath(self):
        """A fresh ``CKPT+<time>`` path, or its temporary twin while saving."""
        return self._twin(super()._new_checkpoint_dirpath())

    def save_checkpoint(
        self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """Saves a checkpoint atomically (see the module docstring).

        Arguments
        ---------
        meta : mapping, optional
            Added to the meta file.
        end_of_epoch : bool
            Whether the checkpoint is at the end of an epoch.
        name : str, optional
            Custom checkpoint name (``CKPT+<name>``); a previous checkpoint
            of that name is replaced.
        verbosity : int
            Logging level of the "saved" message.

        Returns
        -------
        speechbrain.utils.checkpoints.Checkpoint or None
            The saved checkpoint (None on non-main processes).
        """
        final = None
        if if_main_process():
            self._remove_partial_folders()
            if name is None:
                final = self._new_checkpoint_dirpath()
            else:
                final = self._custom_checkpoint_dirpath(name)
            self._pending = final
        try:
            # the parent writes into the folder ``_custom_checkpoint_dirpath``
            # / ``_new_checkpoint_dirpath`` return: point them at the twin
            self._writing = True
            ckpt = super().save_checkpoint(
                meta=meta or {},
                end_of_epoch=end_of_epoch,
                name=name,
                verbosity=logging.DEBUG,
            )
        finally:
            self._writing = False
        ddp_barrier()  # every process has written its files
        saved = None
        if if_main_process():
            saved = self._publish(ckpt, final, end_of_epoch, verbosity)
        # every process sees the same checkpoints after the save (the
        # deletions that follow are collective calls)
        ddp_barrier()
        return saved

    def _publish(self, ckpt, final, end_of_epoch, verbosity):
        """Flushes the temporary folder and renames it to ``final``."""
        partial = ckpt.path
        for path in partial.iterdir():
            _fsync(path)
        _fsync(partial)
        replaced = None
        if final.exists():
            replaced = final.with_name(PARTIAL_PREFIX + "old-" + final.name)
            if replaced.exists():
                shutil.rmtree(replaced)
            os.rename(final, replaced)
        os.rename(partial, final)
        _fsync(final.parent)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        paramfiles = {k: final / p.name for k, p in ckpt.paramfiles.items()}
        kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
        logger.log(verbosity, "Saved an %s checkpoint in %s", kind, final)
        return Checkpoint(final, ckpt.meta, paramfiles)

    def save_and_keep_only(
        self,
        meta=None,
        end_of_epoch=True,
        name=None,
        num_to_keep=1,
        keep_recent=True,
        importance_keys=None,
        max_keys=None,
        min_keys=None,
        ckpt_predicate=None,
        verbosity=logging.INFO,
    ):
        """``Checkpointer.save_and_keep_only`` with fresh default lists.

        SpeechBrain 1.1's version appends ``ckpt_recency`` to its shared
        default ``importance_keys`` list at every call, so each save lists
        the checkpoints once more than the previous one (quadratic in the
        number of saves); fresh lists keep every save equally cheap.
        Arguments are those of the parent.

        Arguments
        ---------
        meta, end_of_epoch, name : mapping, bool, str
            As in :meth:`save_checkpoint`.
        num_to_keep : int
            Checkpoints kept per importance key.
        keep_recent : bool
            Also keep the most recent ones.
        importance_keys : list, optional
            Sort keys of importance.
        max_keys : list, optional
            Meta keys, highest kept.
        min_keys : list, optional
            Meta keys, lowest kept.
        ckpt_predicate : callable, optional
            Only checkpoints passing it may be deleted.
        verbosity : int
            Logging level.
        """
        super().save_and_keep_only(
            meta=meta or {},
            end_of_epoch=end_of_epoch,
            name=name,
            num_to_keep=num_to_keep,
            keep_recent=keep_recent,
            importance_keys=list(importance_keys or []),
            max_keys=list(max_keys or []),
            min_keys=list(min_keys or []),
            ckpt_predicate=ckpt_predicate,
            verbosity=verbosity,
        )

    def _custom_checkpoint_dirpath(self, name):
        """``CKPT+<name>``, or its temporary twin while saving."""
        path = super()._custom_checkpoint_dirpath(name)
        return self._twin(path)

    def _twin(self, path):
        """The temporary folder of ``path`` while a save is running."""
        if getattr(self, "_writing", False):
            final = self._pending
            return final.with_name(PARTIAL_PREFIX + final.name)
        return path

    def _remove_partial_folders(self) -> None:
        """Cleans up after saves that were interrupted.

        A checkpoint moved aside to be replaced (custom name) whose
        replacement never arrived is put back; other temporary folders
        are deleted.
        """
        old_prefix = PARTIAL_PREFIX + "old-"
        for path in sorted(self.checkpoints_dir.iterdir()):
            if not path.is_dir() or not path.name.startswith(PARTIAL_PREFIX):
                continue
            if path.name.startswith(old_prefix):
                original = path.with_name(path.name[len(old_prefix) :])
                if not original.exists():
                    logger.info("Restoring checkpoint %s", original)
                    os.rename(path, original)
                    continue
            logger.info("Removing interrupted checkpoint save %s", path)
            shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------
    # listing and recovery
    def _warn_once(self, path, reason: str) -> None:
        """Warns about an incomplete checkpoint once per folder."""
        if self._warned is None:
            self._warned = set()
        if str(path) in self._warned:
            return
        self._warned.add(str(path))
        logger.warning(
            "Skipping incomplete checkpoint %s (%s); it may come from a run "
            "killed while saving. Delete it when it is no longer needed.",
            path,
            reason,
        )

    def list_checkpoints(self):
        """The complete checkpoints of the folder (incomplete ones skipped).

        Returns
        -------
        list of speechbrain.utils.checkpoints.Checkpoint
            Checkpoints whose meta file reads and that hold a file for
            every required recoverable.
        """
        complete = []
        for ckpt_dir in self._list_checkpoint_dirs():
            try:
                (ckpt,) = self._construct_checkpoint_objects([ckpt_dir])
            except Exception as err:  # unreadable / truncated meta file
                self._warn_once(ckpt_dir, f"unreadable {METAFNAME}: {err}")
                continue
            if not isinstance(ckpt.meta, dict) or "unixtime" not in ckpt.meta:
                self._warn_once(ckpt_dir, f"{METAFNAME} has no meta data")
                continue
            missing = missing_parts(self, ckpt)
            if missing:
                self._warn_once(ckpt_dir, f"no file for {', '.join(missing)}")
                continue
            complete.append(ckpt)
        return complete

    def recover_if_possible(
        self,
        importance_key=None,
        max_key=None,
        min_key=None,
        ckpt_predicate=None,
    ):
        """Loads the best complete checkpoint; skips any that fails to load.

        Arguments are those of ``Checkpointer.recover_if_possible``. A
        checkpoint whose files fail to load (e.g. a file truncated by a
        kill) is skipped with a warning and the next one in the same order
        is tried; if every candidate fails, the first error is raised.

        Arguments
        ---------
        importance_key : callable, optional
            Sort key (highest is loaded).
        max_key : str, optional
            Meta key, highest is loaded.
        min_key : str, optional
            Meta key, lowest is loaded.
        ckpt_predicate : callable, optional
            Filter on the candidates.

        Returns
        -------
        speechbrain.utils.checkpoints.Checkpoint or None
            The loaded checkpoint, None if there is none.
        """
        candidates = self.find_checkpoints(
            importance_key=importance_key,
            max_key=max_key,
            min_key=min_key,
            ckpt_predicate=ckpt_predicate,
        )
        if not candidates:
            logger.info("Would load a checkpoint here, but none found yet.")
            return None
        first_error = None
        for ckpt in candidates:
            try:
                self.load_checkpoint(ckpt)
                return ckpt
            except Exception as err:
                if first_error is None:
                    first_error = err
                self._warn_once(ckpt.path, f"failed to load: {err!r}")
        raise first_error


def make_crash_safe(checkpointer: Optional[Checkpointer]):
    """Makes a ``Checkpointer`` crash-safe in place and returns it.

    A plain ``Checkpointer`` becomes a :class:`CrashSafeCheckpointer`; an
    instance of another subclass gets a class that puts the crash-safe
    methods in front of that subclass. Attributes (recoverables, folder,
    hooks) are kept; None is returned unchanged.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer or None
        The checkpointer.

    Returns
    -------
    Checkpointer or None
        The same object, now crash-safe.

    Example
    -------
    >>> import torch
    >>> tmp = getfixture("tmpdir")
    >>> ckpter = make_crash_safe(Checkpointer(tmp, {"m": torch.nn.Linear(1, 1)}))
    >>> isinstance(ckpter, CrashSafeCheckpointer)
    True
    """
    if checkpointer is None or isinstance(checkpointer, CrashSafeCheckpointer):
        return checkpointer
    cls = type(checkpointer)
    if cls is Checkpointer:
        checkpointer.__class__ = CrashSafeCheckpointer
    else:
        checkpointer.__class__ = type(
            f"CrashSafe{cls.__name__}", (CrashSafeCheckpointer, cls), {}
        )
    return checkpointer
