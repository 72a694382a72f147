"""Data preparation for RAVDESS (8-class emotion recognition, audio only).

Expected layout (the Zenodo audio-only zips, extracted anywhere under
``data_folder``)::

    <data_folder>/**/Actor_XX/03-01-EE-II-SS-RR-AA.wav

File-name fields: modality (03 = audio-only), vocal channel (01 speech,
02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong),
statement (01, 02), repetition (01, 02) and actor (01..24; odd = male,
even = female). A file name that does not follow this scheme, or an
unknown emotion code, raises an error naming the file. Files of another
modality are skipped with a warning.

Split: actor-independent. Defaults: train = actors 1-20, valid = 21-22,
test = 23-24 (one male and one female actor in each of valid and test);
pass other lists for cross-validation. Only speech is used by default
(``vocal_channels=("speech",)``); the song part has 6 of the 8 emotions.

Outputs in ``save_folder``: ``train.json``, ``valid.json``, ``test.json``
and ``labels.txt``. Entry fields: ``wav``, ``duration``, ``label`` (emotion
name), ``speaker`` ("Actor_XX"), ``actor`` (int), ``gender`` (F/M),
``vocal_channel`` (speech/song), ``intensity`` (normal/strong),
``statement`` (int) and ``repetition`` (int); the id is the file stem.

Authors
 * ast_sb developers 2026
"""

import logging
import re
from pathlib import Path
from typing import Dict, Optional, Sequence

from ast_sb.dataio.audio_checks import add_durations
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_list,
    write_splits,
)
from ast_sb.dataio.splits import check_disjoint
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}
MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
N_ACTORS = 24
DEFAULT_VALID_ACTORS = (21, 22)
DEFAULT_TEST_ACTORS = (23, 24)

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def prepare_ravdess(
    data_folder: str,
    save_folder: str,
    train_actors: Optional[Sequence[int]] = None,
    valid_actors: Sequence[int] = DEFAULT_VALID_ACTORS,
    test_actors: Sequence[int] = DEFAULT_TEST_ACTORS,
    vocal_channels: Sequence[str] = ("speech",),
    on_corrupt: str = "raise",
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes actor-independent RAVDESS manifests.

    Arguments
    ---------
    data_folder : str
        Folder containing the ``Actor_XX`` folders (searched recursively).
    save_folder : str
        Where the manifests are written.
    train_actors : Sequence[int], optional
        Training actors; default: every actor (1..24) not in valid or test.
    valid_actors : Sequence[int]
        Validation actors.
    test_actors : Sequence[int]
        Test actors.
    vocal_channels : Sequence[str]
        "speech" and/or "song".
    on_corrupt : str
        "raise" or "skip" (report) for unreadable wavs.
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
    valid_actors, test_actors = list(valid_actors), list(test_actors)
    if train_actors is None:
        taken = set(valid_actors) | set(test_actors)
        train_actors = [a for a in range(1, N_ACTORS + 1) if a not in taken]
    train_actors = list(train_actors)
    actor_sets = {
        "train": train_actors,
        "valid": valid_actors,
        "test": test_actors,
    }
    for name, actors in actor_sets.items():
        bad = [a for a in actors if a not in range(1, N_ACTORS + 1)]
        if bad or not actors:
            raise ValueError(
                f"{name}_actors must be non-empty, in 1..24: {actors}"
            )
    names = list(actor_sets)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = set(actor_sets[first]) & set(actor_sets[second])
            if shared:
                raise ValueError(
                    f"Actors {sorted(shared)} are in both {first} and {second}"
                )
    unknown = set(vocal_channels) - set(VOCAL_CHANNELS.values())
    if unknown or not vocal_channels:
        raise ValueError(
            f"vocal_channels must be 'speech'/'song': {vocal_channels}"
        )

    root = Path(data_folder)
    options = {
        "data_folder": str(root.resolve()),
        "actors": actor_sets,
        "vocal_channels": sorted(vocal_channels),
        "on_corrupt": on_corrupt,
    }
    opts_file = save / "ravdess_prepare_opts.json"
    if is_prepared(list(outputs.values()), options, opts_file):
        logger.info("RAVDESS manifests up to date in %s, skipping", save)
        return outputs

    entries = {
        k: e
        for k, e in read_ravdess(root).items()
        if e["vocal_channel"] in vocal_channels
    }
    _, corrupt = add_durations(entries, "raise", on_corrupt)
    report_problems(corrupt, save / "corrupt_files.txt", "unreadable wavs")
    splits = {}
    for name, actors in actor_sets.items():
        splits[name] = {
            k: e for k, e in entries.items() if e["actor"] in actors
        }
        if not splits[name]:
            raise DataPreparationError(
                f"RAVDESS {name} set is empty: no {list(vocal_channels)} file "
                f"of actors {actors} under {root}"
            )
    check_disjoint(splits, "speaker")
    write_splits(splits, save)
    labels = sorted({e["label"] for e in entries.values()})
    write_list(
        [lab for lab in EMOTIONS.values() if lab in labels], save / "labels.txt"
    )
    mark_prepared(options, opts_file)
    return outputs


def parse_ravdess_name(path: Path) -> dict:
    """Decodes a RAVDESS file name ``MM-VV-EE-II-SS-RR-AA.wav``.

    Arguments
    ---------
    path : pathlib.Path
        Audio file.

    Returns
    -------
    dict
        modality, vocal_channel, label, intensity, statement, repetition,
        actor and gender.
    """
    match = _NAME.match(path.stem)
    if match is None:
        raise DataPreparationError(
            f"RAVDESS file name {path} does not follow "
            "'MM-VV-EE-II-SS-RR-AA.wav' (7 two-digit fields)"
        )
    modality, channel, emotion, intensity, statement, repetition, actor = (
        match.groups()
    )
    if emotion not in EMOTIONS:
        raise UnknownLabelError(
            emotion, f"the emotion field (3rd) of RAVDESS file {path}", EMOTIONS
        )
    fields = {
        "modality": MODALITIES,
        "vocal channel": VOCAL_CHANNELS,
        "intensity": INTENSITIES,
        "statement": {"01": 1, "02": 2},
        "repetition": {"01": 1, "02": 2},
    }
    values = (modality, channel, intensity, statement, repetition)
    for (field, codes), value in zip(fields.items(), values):
        if value not in codes:
            raise DataPreparationError(
                f"RAVDESS file {path}: bad {field} code {value}"
            )
    actor_id = int(actor)
    if not 1 <= actor_id <= N_ACTORS:
        raise DataPreparationError(
            f"RAVDESS file {path}: bad actor code {actor}"
        )
    return {
        "modality": MODALITIES[modality],
        "vocal_channel": VOCAL_CHANNELS[channel],
        "label": EMOTIONS[emotion],
        "intensity": INTENSITIES[intensity],
        "statement": int(statement),
        "repetition": int(repetition),
        "actor": actor_id,
        "gender": "M" if actor_id % 2 else "F",
    }


def read_ravdess(root: Path) -> Dict[str, dict]:
    """Finds and decodes the audio-only RAVDESS files under ``root``.

    Arguments
    ---------
    root : pathlib.Path
        Folder containing ``Actor_XX`` folders (at any depth).

    Returns
    -------
    Dict[str, dict]
        File stem -> entry (durations not yet read).
    """
    if not root.is_dir():
        raise DataPreparationError(f"RAVDESS data folder not found: {root}")
    actor_dirs = sorted(
        p
        for p in root.rglob("Actor_*")
        if p.is_dir() and re.fullmatch(r"Actor_\d\d", p.name)
    )
    if not actor_dirs:
        raise DataPreparationError(f"No Actor_XX folder found under {root}")
    entries: Dict[str, dict] = {}
    other_modality = 0
    for actor_dir in actor_dirs:
        for path in sorted(actor_dir.iterdir()):
            if path.suffix.lower() != ".wav" or path.name.startswith("."):
                continue
            info = parse_ravdess_name(path)
            if info["actor"] != int(actor_dir.name[-2:]):
                raise DataPreparationError(
                    f"RAVDESS file {path}: actor {info['actor']:02d} in the "
                    f"name but folder {actor_dir.name}"
                )
            if info.pop("modality") != "audio-only":
                other_modality += 1
                continue
            if path.stem in entries:
                raise DataPreparationError(
                    f"RAVDESS file {path} duplicates {entries[path.stem]['wav']}"
                )
            entries[path.stem] = {
                "wav": str(path.resolve()),
                "label": info.pop("label"),
                "speaker": actor_dir.name,
                **info,
            }
    if other_modality:
        logger.warning(
            "%d RAVDESS files with a non audio-only modality code skipped",
            other_modality,
        )
    return entries
