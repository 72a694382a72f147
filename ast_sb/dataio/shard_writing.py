"""Writing WebDataset-format tar shards from a manifest.

Full AudioSet (about 2 million 10-s clips) is slow to read as single files
from network storage. :func:`write_shards` packs a manifest (see
``ast_sb.dataio.manifests``) into tar shards in the WebDataset layout: each
sample is a group of consecutive members sharing a key,
``<key>.wav`` (or ``.flac``) with the audio bytes and ``<key>.json`` with
the manifest entry (labels, duration, weight, ..., plus the original
``id``), written with ``webdataset.ShardWriter``. A ``shards.json`` index
(:data:`INDEX_NAME`) lists the shards and their sample counts. Reading them
back: :mod:`ast_sb.dataio.sharding`, which re-exports :func:`write_shards`.

Authors
 * ast_sb developers 2026
"""

import io
import json
import logging
import os
import random
import re
from pathlib import Path
from typing import (
    Any,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    Union,
)

import soundfile as sf
import webdataset

from ast_sb.disk_space import disk_full_error, is_disk_full, write_file_atomic

__all__ = [
    "write_shards",
]

logger = logging.getLogger(__name__)


INDEX_NAME = "shards.json"


def _safe_key(key: str) -> str:
    """WebDataset keys may not contain dots or slashes."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", key) or "_"


def _audio_bytes(path: str, audio_format: str) -> Tuple[bytes, str]:
    """Returns (bytes, extension) of a clip, re-encoded if requested."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if audio_format == "keep" and ext in ("wav", "flac"):
        with open(path, "rb") as f:
            return f.read(), ext
    target = "flac" if audio_format == "keep" else audio_format
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    buffer = io.BytesIO()
    subtype = "PCM_16" if target == "flac" else "FLOAT"
    sf.write(buffer, data, rate, format=target.upper(), subtype=subtype)
    return buffer.getvalue(), target


def _abandon_shards(writer: Any, files: List[Any], shards: List[str]) -> None:
    """After an error: removes the shard being written and the finished ones."""
    try:
        writer.close()  # ``_commit`` removes the incomplete shard
    except Exception:
        pass  # e.g. the disk is full: the file is removed below
    for fout in files:
        try:
            fout.close()
        except OSError:
            pass
        if os.path.exists(fout.name):
            os.remove(fout.name)
    for shard in shards:  # an incomplete set is no data set
        os.remove(shard)


def write_shards(
    manifest: Union[str, "os.PathLike[str]", Mapping[str, Mapping[str, Any]]],
    output_folder: Union[str, "os.PathLike[str]"],
    max_samples_per_shard: int = 1000,
    max_bytes_per_shard: Optional[int] = None,
    audio_format: str = "keep",
    shuffle: bool = True,
    seed: int = 1234,
    prefix: str = "shard",
) -> List[str]:
    """Packs the clips of a manifest into WebDataset tar shards.

    Written with ``webdataset.ShardWriter``; each shard is written to
    ``<name>.tmp`` and renamed when complete, so an interrupted run leaves
    no truncated ``.tar``. On an error (a missing or unreadable clip, a
    full disk) the shard being written is removed and so are the shards
    this call already finished: no incomplete set is left for a reader to
    take as the whole data set, and ``shards.json`` is not written.

    Arguments
    ---------
    manifest : str, os.PathLike or Mapping
        A JSON manifest path or the manifest dict (id -> entry with "wav").
    output_folder : str or os.PathLike
        Folder receiving ``<prefix>-000000.tar``, ... and ``shards.json``.
    max_samples_per_shard : int
        Maximum number of samples in a shard.
    max_bytes_per_shard : int, optional
        Start a new shard when this many bytes (audio and JSON members)
        are reached.
    audio_format : str
        "keep" (copy .wav / .flac bytes unchanged, re-encode other formats
        to FLAC), "wav" (float32 WAV) or "flac" (16-bit FLAC).
    shuffle : bool
        Shuffle the samples before packing (seeded), so that each shard is
        a random mix of classes. Recommended for training.
    seed : int
        Seed of the shuffle.
    prefix : str
        Shard file-name prefix.

    Returns
    -------
    List[str]
        Paths of the written shards.

    Example
    -------
    >>> import numpy as np
    >>> tmp = getfixture("tmpdir")
    >>> manifest = {}
    >>> for i in range(5):
    ...     path = str(tmp / f"clip{i}.wav")
    ...     sf.write(path, np.zeros(1600, dtype="float32"), 16000)
    ...     manifest[f"clip.{i}"] = {"wav": path, "labels": ["a"], "duration": 0.1}
    >>> shards = write_shards(manifest, tmp / "shards", max_samples_per_shard=2)
    >>> [os.path.basename(s) for s in shards]
    ['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar']
    >>> import tarfile
    >>> sorted(tarfile.open(shards[0]).getnames())  # doctest: +ELLIPSIS
    ['clip_....json', 'clip_....wav', 'clip_....json', 'clip_....wav']
    """
    if audio_format not in ("keep", "wav", "flac"):
        raise ValueError(
            f"audio_format must be keep, wav or flac: {audio_format}"
        )
    if max_samples_per_shard < 1:
        raise ValueError("max_samples_per_shard must be >= 1")
    if not isinstance(manifest, Mapping):
        with open(manifest, encoding="utf-8") as f:
            manifest = json.load(f)
    ids = list(manifest)
    if shuffle:
        random.Random(seed).shuffle(ids)
    out = Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)

    shards: List[str] = []
    counts: List[int] = []
    files: List[Any] = []

    def _open(name: str):
        files.append(open(name + ".tmp", "wb"))
        return files[-1]

    failed: List[bool] = []

    def _commit(name: str):
        files[-1].close()  # a failed close leaves it to _abandon_shards
        files.pop()
        if failed:  # closed after an error: the shard is incomplete
            os.remove(name + ".tmp")
            return
        os.replace(name + ".tmp", name)
        shards.append(name)
        counts.append(writer.count)

    used_keys: Dict[str, int] = {}
    weight_sum: Optional[float] = 0.0
    if ids:
        writer = webdataset.ShardWriter(
            str(out / f"{prefix}-%06d.tar"),
            maxcount=max_samples_per_shard,
            maxsize=max_bytes_per_shard or float("inf"),
            post=_commit,
            opener=_open,
            verbose=0,
            encoder=False,
            mtime=0,
            mode=0o644,
            format="PAX_FORMAT",
        )
        try:
            for utt_id in ids:
                entry = dict(manifest[utt_id])
                payload, ext = _audio_bytes(entry.pop("wav"), audio_format)
                key = _safe_key(str(utt_id))
                if key in used_keys:
                    used_keys[key] += 1
                    key = f"{key}_{used_keys[key]}"
                used_keys.setdefault(key, 0)
                entry["id"] = str(utt_id)
                if weight_sum is not None and "weight" in entry:
                    weight_sum += float(entry["weight"])
                else:
                    weight_sum = None
                meta = json.dumps(entry, ensure_ascii=False).encode("utf-8")
                writer.write({"__key__": key, ext: payload, "json": meta})
            writer.close()  # commits the last shard
        except BaseException as err:
            failed.append(True)
            _abandon_shards(writer, files, shards)
            if isinstance(err, Exception) and is_disk_full(err):
                raise disk_full_error(out, err) from err
            raise
    index = {
        "num_samples": sum(counts),
        "shards": [
            {"path": os.path.basename(s), "num_samples": n}
            for s, n in zip(shards, counts)
        ],
    }
    if weight_sum is not None and ids:
        # lets a reader draw samples in proportion to their weights
        index["weight_sum"] = weight_sum
    write_file_atomic(out / INDEX_NAME, json.dumps(index, indent=2))
    logger.info(
        "Wrote %d samples into %d shards in %s", len(ids), len(shards), out
    )
    return shards
