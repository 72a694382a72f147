"""Data preparation for GTZAN (10-genre music classification).

Expected layout (``genres`` as in the original release, ``genres_original``
as in the common Kaggle copy, or the genre folders directly)::

    <data_folder>/genres/<genre>/<genre>.000NN.{wav,au}

with the 10 genres blues, classical, country, disco, hiphop, jazz, metal,
pop, reggae and rock, 100 excerpts of 30 s each. A genre folder outside
this list, or a file whose name does not match its folder, raises an error
naming it.

Known faults. ``jazz.00054`` cannot be decoded in the widely circulated
copy; it is skipped with a warning (``skip_known_corrupt=True``) and listed
in ``corrupt_files.txt``. Other unreadable files follow ``on_corrupt``.
GTZAN also has repeated excerpts, mislabelings, distortions and strong
artist repetition (Sturm, 2013).

Splits -- be aware of what they are and are not:

- ``split="fold"`` (default): a deterministic 10-fold split by excerpt
  number: fold k holds the excerpts ``k*10 .. k*10+9`` of every genre
  (10 per genre). Fold ``test_fold`` is the test set, fold ``valid_fold``
  (default ``test_fold + 1`` mod 10) the validation set, the others train.
  Contiguous numbers were chosen because excerpts of one artist tend to
  be numbered consecutively in GTZAN, which limits (but does NOT remove)
  artist leakage across folds. This is NOT the fault-filtered split.
- ``split="random"``: genre-stratified random split with ``split_ratio``
  and ``seed``; artist leakage is not controlled at all.
- ``split="file"``: explicit lists from ``split_file``, a JSON file
  ``{"train": [ids], "valid": [ids], "test": [ids]}`` with ids such as
  ``"blues.00000"``. Use it for the fault-filtered, artist-conditioned
  split of Kereliuk, Sturm & Larsen (2015, 443/197/290 excerpts); those
  lists are not shipped here. :func:`write_split_file` converts them into
  this JSON format, from the published ``{train,valid,test}_filtered.txt``
  files or from the copy in ``torchaudio.datasets.gtzan`` (command line:
  ``python gtzan_prepare.py --make-split-file OUT.json [--lists DIR]``).
  Files absent from the lists are left out.

Accuracies from ``fold`` / ``random`` splits are optimistic and are not
comparable with results on the fault-filtered split.

Outputs in ``save_folder``: ``train.json``, ``valid.json``, ``test.json``,
``labels.txt`` and ``corrupt_files.txt``. Entry fields: ``wav``,
``duration``, ``label`` (genre), ``track`` (excerpt number, int) and
``fold`` (int, fold of the ``fold`` scheme); the id is ``<genre>.000NN``.

Authors
 * ast_sb developers 2026
"""

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ast_sb.dataio.audio_checks import (
    AudioFileError,
    add_durations,
    check_policy,
)
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_list,
    write_splits,
)
from ast_sb.dataio.splits import stratified_split
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
TRACKS_PER_GENRE = 100
#: Files known to be undecodable in the public release -> explanation.
KNOWN_CORRUPT = {
    "jazz.00054": "known corrupt file of the public GTZAN release "
    "(its audio data cannot be decoded)",
}
EXTENSIONS = (".wav", ".au", ".flac")

_NAME = re.compile(r"^([a-z]+)\.(\d{5})$")


def prepare_gtzan(
    data_folder: str,
    save_folder: str,
    split: str = "fold",
    test_fold: int = 0,
    valid_fold: Optional[int] = None,
    n_folds: int = 10,
    split_ratio: Sequence[float] = (0.8, 0.1, 0.1),
    split_file: Optional[str] = None,
    skip_known_corrupt: bool = True,
    on_corrupt: str = "skip",
    seed: int = 1234,
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes the GTZAN train / valid / test manifests.

    Arguments
    ---------
    data_folder : str
        Folder holding ``genres/`` (or ``genres_original/``, or the genre
        folders themselves).
    save_folder : str
        Where the manifests are written.
    split : str
        "fold", "random" or "file" (see the module docstring).
    test_fold : int
        Test fold for ``split="fold"`` (0 .. n_folds-1).
    valid_fold : int, optional
        Validation fold; default ``(test_fold + 1) % n_folds``.
    n_folds : int
        Number of folds (a divisor of 100 gives equal folds).
    split_ratio : Sequence[float]
        Train / valid / test ratios for ``split="random"``.
    split_file : str, optional
        JSON split lists for ``split="file"``.
    skip_known_corrupt : bool
        Skip (with a warning) the files of ``KNOWN_CORRUPT`` even before
        trying to read them.
    on_corrupt : str
        "skip" (report) or "raise" for other unreadable files.
    seed : int
        Seed of ``split="random"``.
    skip_prep : bool
        If True, do nothing.

    Returns
    -------
    Dict[str, str]
        Paths of the "train", "valid" and "test" manifests.
    """
    save = Path(save_folder)
    outputs = manifest_paths(save)
    if skip_prep:
        return outputs
    check_policy("on_corrupt", on_corrupt)
    if split not in ("fold", "random", "file"):
        raise ValueError(f"split must be 'fold', 'random' or 'file': {split}")
    if not 2 <= n_folds <= TRACKS_PER_GENRE:
        raise ValueError(f"n_folds must be in 2..100: {n_folds}")
    if valid_fold is None:
        valid_fold = (test_fold + 1) % n_folds
    if split == "fold":
        for name, fold in (
            ("test_fold", test_fold),
            ("valid_fold", valid_fold),
        ):
            if fold not in range(n_folds):
                raise ValueError(f"{name} must be in 0..{n_folds - 1}: {fold}")
        if valid_fold == test_fold:
            raise ValueError("valid_fold and test_fold must differ")
    split_lists = None
    if split == "file":
        if split_file is None:
            raise ValueError("split='file' needs split_file")
        split_lists = _read_split_file(Path(split_file))
    elif split == "random" and (len(split_ratio) != 3 or min(split_ratio) < 0):
        raise ValueError(f"split_ratio must be 3 values >= 0: {split_ratio}")

    genre_root = _find_genre_root(Path(data_folder))
    options = {
        "data_folder": str(genre_root.resolve()),
        "split": split,
        "folds": [test_fold, valid_fold, n_folds] if split == "fold" else None,
        "split_ratio": list(split_ratio) if split == "random" else None,
        "split_lists": split_lists,
        "skip_known_corrupt": skip_known_corrupt,
        "on_corrupt": on_corrupt,
        "seed": seed if split == "random" else None,
    }
    opts_file = save / "gtzan_prepare_opts.json"
    if is_prepared(list(outputs.values()), options, opts_file):
        logger.info("GTZAN manifests up to date in %s, skipping", save)
        return outputs

    entries = read_gtzan(genre_root, n_folds)
    corrupt = {}
    for key, reason in KNOWN_CORRUPT.items():
        if key in entries and skip_known_corrupt:
            path = entries.pop(key)["wav"]
            corrupt[key] = f"{path}: {reason}"
            logger.warning(
                "Skipping GTZAN %s (%s): %s; set skip_known_corrupt=False to "
                "try to read it",
                key,
                path,
                reason,
            )
    try:
        _, unreadable = add_durations(entries, "raise", on_corrupt)
    except AudioFileError as err:
        key = Path(err.path).stem
        if key in KNOWN_CORRUPT:
            raise AudioFileError(
                err.path, f"{err.reason}; {KNOWN_CORRUPT[key]}"
            ) from err
        raise
    for key, message in unreadable.items():
        if key in KNOWN_CORRUPT:
            message += f"; {KNOWN_CORRUPT[key]}"
        corrupt[key] = message
    report_problems(
        corrupt, save / "corrupt_files.txt", "unreadable GTZAN files"
    )

    if split == "fold":
        splits = {
            "train": {
                k: e
                for k, e in entries.items()
                if e["fold"] not in (test_fold, valid_fold)
            },
            "valid": {
                k: e for k, e in entries.items() if e["fold"] == valid_fold
            },
            "test": {
                k: e for k, e in entries.items() if e["fold"] == test_fold
            },
        }
    elif split == "random":
        keys = list(entries)
        parts = stratified_split(
            keys, [entries[k]["label"] for k in keys], split_ratio, seed
        )
        splits = {
            name: {k: entries[k] for k in part}
            for name, part in zip(("train", "valid", "test"), parts)
        }
    else:
        splits = _apply_split_lists(entries, split_lists, corrupt, split_file)
    for name, manifest in splits.items():
        if not manifest:
            raise DataPreparationError(
                f"GTZAN {name} set is empty ({genre_root}, split={split})"
            )
    write_splits(splits, save)
    write_list(GENRES, save / "labels.txt")
    mark_prepared(options, opts_file)
    return outputs


def _find_genre_root(data_folder: Path) -> Path:
    """Returns the folder that holds the genre folders."""
    for candidate in ("genres", "genres_original", "Data/genres_original"):
        if (data_folder / candidate).is_dir():
            return data_folder / candidate
    if data_folder.is_dir() and any((data_folder / g).is_dir() for g in GENRES):
        return data_folder
    raise DataPreparationError(
        f"No GTZAN genre folders found in {data_folder} (expected "
        "genres/<genre>/<genre>.000NN.wav)"
    )


def read_gtzan(genre_root: Path, n_folds: int = 10) -> Dict[str, dict]:
    """Lists and checks the GTZAN excerpts.

    Arguments
    ---------
    genre_root : pathlib.Path
        Folder containing the genre folders.
    n_folds : int
        Number of folds used to fill the ``fold`` field.

    Returns
    -------
    Dict[str, dict]
        ``<genre>.000NN`` -> {"wav", "label", "track", "fold"} (durations
        not yet read).
    """
    entries: Dict[str, dict] = {}
    for folder in sorted(p for p in genre_root.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        if folder.name not in GENRES:
            raise UnknownLabelError(
                folder.name, f"GTZAN genre folder {folder}", GENRES
            )
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in EXTENSIONS or path.name.startswith(
                "."
            ):
                continue
            match = _NAME.match(path.stem)
            if match is None or match.group(1) != folder.name:
                raise DataPreparationError(
                    f"GTZAN file {path} does not match its folder: expected "
                    f"{folder.name}.000NN{path.suffix}"
                )
            track = int(match.group(2))
            if track >= TRACKS_PER_GENRE:
                raise DataPreparationError(
                    f"GTZAN file {path}: excerpt number {track} > 99"
                )
            if path.stem in entries:
                raise DataPreparationError(
                    f"GTZAN file {path} duplicates {entries[path.stem]['wav']}"
                )
            entries[path.stem] = {
                "wav": str(path.resolve()),
                "label": folder.name,
                "track": track,
                "fold": track * n_folds // TRACKS_PER_GENRE,
            }
    if not entries:
        raise DataPreparationError(f"No GTZAN audio file found in {genre_root}")
    missing = sorted(set(GENRES) - {e["label"] for e in entries.values()})
    if missing:
        logger.warning("GTZAN genres without any file: %s", missing)
    return entries


def _read_split_file(path: Path) -> Dict[str, list]:
    """Reads and checks a JSON split file."""
    try:
        with open(path, encoding="utf-8") as f:
            lists = json.load(f)
    except (OSError, ValueError) as err:
        raise DataPreparationError(
            f"Cannot read GTZAN split file {path}: {err}"
        )
    if not isinstance(lists, dict) or set(lists) != {"train", "valid", "test"}:
        raise DataPreparationError(
            f"GTZAN split file {path} must be a JSON object with exactly the "
            "keys 'train', 'valid', 'test'"
        )
    seen: Dict[str, str] = {}
    for name, ids in lists.items():
        for key in ids:
            key = Path(key).stem if key.endswith(EXTENSIONS) else key
            if key in seen:
                raise DataPreparationError(
                    f"GTZAN split file {path}: {key} is in both {seen[key]} and {name}"
                )
            seen[key] = name
    return {
        name: sorted(Path(k).stem if k.endswith(EXTENSIONS) else k for k in ids)
        for name, ids in lists.items()
    }


def _apply_split_lists(entries, split_lists, corrupt, split_file):
    """Builds the splits from explicit id lists."""
    splits, absent = {}, []
    for name, ids in split_lists.items():
        splits[name] = {}
        for key in ids:
            if key in entries:
                splits[name][key] = entries[key]
            elif key in corrupt:
                logger.warning("%s (split %s) skipped: unreadable", key, name)
            else:
                absent.append(key)
    if absent:
        raise DataPreparationError(
            f"{len(absent)} excerpts of split file {split_file} not found in "
            f"the data folder: {absent[:10]}"
        )
    unused = len(entries) - sum(len(s) for s in splits.values())
    logger.info("%d GTZAN excerpts are in no list of %s", unused, split_file)
    return splits


#: File names of the fault-filtered lists (github.com/coreyker/dnn-mgr, gtzan/).
FILTERED_LIST_FILES = {
    "train": "train_filtered.txt",
    "valid": "valid_filtered.txt",
    "test": "test_filtered.txt",
}


def _excerpt_id(line: str) -> str:
    """``blues/blues.00012.au`` or ``blues.00012`` -> ``blues.00012``."""
    name = line.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return Path(name).stem if name.endswith(EXTENSIONS) else name


def _torchaudio_filtered_lists() -> Dict[str, List[str]]:
    """The fault-filtered lists shipped in ``torchaudio.datasets.gtzan``."""
    try:
        from torchaudio.datasets import gtzan
    except ImportError as err:
        raise DataPreparationError(
            "torchaudio.datasets.gtzan is not available to read the "
            f"fault-filtered lists ({err}); pass the folder of the "
            "*_filtered.txt files instead"
        ) from err
    return {
        "train": list(gtzan.filtered_train),
        "valid": list(gtzan.filtered_valid),
        "test": list(gtzan.filtered_test),
    }


def write_split_file(
    out_file: str, lists_folder: Optional[str] = None
) -> Dict[str, int]:
    """Writes the fault-filtered GTZAN split as a ``split_file`` JSON.

    Arguments
    ---------
    out_file : str
        JSON file to write (``{"train": [ids], "valid": [...], "test": [...]}``).
    lists_folder : str, optional
        Folder with ``train_filtered.txt``, ``valid_filtered.txt`` and
        ``test_filtered.txt`` (one excerpt per line, e.g.
        ``blues/blues.00012.au``). None: use the copy of the lists in
        ``torchaudio.datasets.gtzan``.

    Returns
    -------
    Dict[str, int]
        Number of excerpts per split (443 / 197 / 290 for the published
        lists).
    """
    if lists_folder is None:
        lists = _torchaudio_filtered_lists()
    else:
        lists = {}
        for name, filename in FILTERED_LIST_FILES.items():
            path = Path(lists_folder) / filename
            if not path.is_file():
                raise DataPreparationError(
                    f"GTZAN split list not found: {path}"
                )
            lines = path.read_text(encoding="utf-8").splitlines()
            lists[name] = [line for line in lines if line.strip()]
    split = {
        name: [_excerpt_id(line) for line in ids] for name, ids in lists.items()
    }
    for name, ids in split.items():
        bad = [k for k in ids if not _NAME.match(k)]
        if bad:
            raise DataPreparationError(
                f"GTZAN {name} list: ids not of the form <genre>.000NN: "
                f"{bad[:5]}"
            )
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    with open(out_file, "w", encoding="utf-8") as fout:
        json.dump(split, fout, indent=1)
    # checks the result like prepare_gtzan will (overlaps, keys)
    _read_split_file(Path(out_file))
    return {name: len(ids) for name, ids in split.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Writes the fault-filtered GTZAN split file (split: file)"
    )
    parser.add_argument("--make-split-file", required=True, metavar="OUT_JSON")
    parser.add_argument(
        "--lists",
        default=None,
        metavar="DIR",
        help="folder of {train,valid,test}_filtered.txt (default: the copy "
        "in torchaudio.datasets.gtzan)",
    )
    args = parser.parse_args()
    counts = write_split_file(args.make_split_file, args.lists)
    print(f"Wrote {args.make_split_file}: {counts}")
