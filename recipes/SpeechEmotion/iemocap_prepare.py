"""Data preparation for IEMOCAP (4-class speech emotion recognition).

Expected layout (the published ``IEMOCAP_full_release``)::

    IEMOCAP_full_release/Session{1..5}/sentences/wav/<dialog>/<utt>.wav
    IEMOCAP_full_release/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt

Each EmoEvaluation file has one summary line per utterance, e.g.
``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000,
2.5000]``. As in SpeechBrain's IEMOCAP recipe, four classes are kept:
``neu``, ``hap`` (with ``exc`` merged into it), ``sad`` and ``ang``; the
other codes (``fru``, ``sur``, ``fea``, ``dis``, ``oth``, ``xxx``) are
dropped. A code outside the IEMOCAP set raises an error naming the code,
file and line.

The speaker of an utterance is its session plus the gender letter of the
last id field (``Ses01F_impro01_M003`` -> speaker ``Ses01M``): each session
has one female and one male actor, 10 speakers in all.

Split: leave-one-session-out. ``test_session`` (1..5) is the test set; the
four other sessions give train and valid:

- ``valid_mode="speaker"`` (default): valid = all utterances of
  ``valid_speaker`` (default: the female speaker of the next session,
  e.g. ``Ses01F`` when testing on session 5); train = the other 7 speakers.
  All three sets are speaker-disjoint.
- ``valid_mode="fraction"``: valid = a random ``valid_fraction`` of the
  utterances of the four training sessions, stratified by emotion (seeded).
  Train and valid then share speakers (test stays speaker-independent).

Running the 5 test sessions and averaging gives the usual 5-fold
leave-one-session-out result.

Outputs in ``save_folder``: ``train.json``, ``valid.json``, ``test.json``,
``labels.txt`` and ``missing_files.txt`` (utterances listed in
EmoEvaluation whose wav is absent; skipped with ``on_missing="skip"``).
Entry fields: ``wav``, ``duration``, ``label`` (neu/hap/sad/ang),
``speaker`` (e.g. ``Ses01F``), ``session`` (int), ``gender`` (F/M); the
entry id is the utterance id.

Authors
 * ast_sb developers 2026
"""

import logging
import re
from pathlib import Path
from typing import Dict, Optional

from ast_sb.dataio.audio_checks import add_durations, check_policy
from ast_sb.dataio.labels import UnknownLabelError
from ast_sb.dataio.manifests import (
    is_prepared,
    manifest_paths,
    mark_prepared,
    report_problems,
    write_list,
    write_splits,
)
from ast_sb.dataio.splits import check_disjoint, stratified_split
from ast_sb.errors import DataPreparationError

logger = logging.getLogger(__name__)

#: Every emotion code of the IEMOCAP annotation.
IEMOCAP_CODES = (
    "neu",
    "hap",
    "exc",
    "sad",
    "ang",
    "fru",
    "sur",
    "fea",
    "dis",
    "oth",
    "xxx",
)
#: Code -> class for the 4-class task (codes not listed are dropped).
CLASS_MAP = {
    "neu": "neu",
    "hap": "hap",
    "exc": "hap",
    "sad": "sad",
    "ang": "ang",
}
CLASSES = ("neu", "hap", "sad", "ang")

_LINE = re.compile(
    r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[.*\]\s*$"
)
_UTT = re.compile(r"^Ses0([1-5])[FM]_.+_([FM])\d+$")


def prepare_iemocap(
    data_folder: str,
    save_folder: str,
    test_session: int = 5,
    valid_mode: str = "speaker",
    valid_speaker: Optional[str] = None,
    valid_fraction: float = 0.1,
    merge_excited: bool = True,
    on_missing: str = "skip",
    on_corrupt: str = "raise",
    seed: int = 1234,
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes leave-one-session-out IEMOCAP manifests.

    Arguments
    ---------
    data_folder : str
        ``IEMOCAP_full_release`` or the folder containing it.
    save_folder : str
        Where the manifests are written.
    test_session : int
        Session (1..5) used as test set.
    valid_mode : str
        "speaker" (one held-out speaker of the training sessions) or
        "fraction" (random stratified fraction of the training sessions).
    valid_speaker : str, optional
        Speaker for ``valid_mode="speaker"``, e.g. "Ses01F"; default: the
        female speaker of session ``test_session % 5 + 1``.
    valid_fraction : float
        Fraction for ``valid_mode="fraction"``.
    merge_excited : bool
        Merge "exc" into "hap" (SpeechBrain / common practice); if False
        "exc" utterances are dropped.
    on_missing : str
        "skip" (report) or "raise" when a listed utterance has no wav.
    on_corrupt : str
        "raise" or "skip" (report) for unreadable wavs.
    seed : int
        Seed of the "fraction" split.
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
    if test_session not in range(1, 6):
        raise ValueError(f"test_session must be in 1..5, got {test_session}")
    if valid_mode not in ("speaker", "fraction"):
        raise ValueError(
            f"valid_mode must be 'speaker' or 'fraction': {valid_mode}"
        )
    if valid_mode == "speaker":
        if valid_speaker is None:
            valid_speaker = f"Ses{test_session % 5 + 1:02d}F"
        if not re.fullmatch(r"Ses0[1-5][FM]", valid_speaker):
            raise ValueError(
                f"valid_speaker must look like 'Ses01F': {valid_speaker}"
            )
        if int(valid_speaker[4]) == test_session:
            raise ValueError(
                f"valid_speaker {valid_speaker} belongs to the test session"
            )
    elif not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1): {valid_fraction}")
    check_policy("on_missing", on_missing)
    check_policy("on_corrupt", on_corrupt)
    root = Path(data_folder)
    if (root / "IEMOCAP_full_release").is_dir():
        root = root / "IEMOCAP_full_release"

    options = {
        "data_folder": str(root.resolve()),
        "test_session": test_session,
        "valid_mode": valid_mode,
        "valid_speaker": valid_speaker,
        "valid_fraction": valid_fraction if valid_mode == "fraction" else None,
        "merge_excited": merge_excited,
        "on_missing": on_missing,
        "on_corrupt": on_corrupt,
        "seed": seed,
    }
    opts_file = save / "iemocap_prepare_opts.json"
    if is_prepared(list(outputs.values()), options, opts_file):
        logger.info("IEMOCAP manifests up to date in %s, skipping", save)
        return outputs

    entries = read_iemocap(root, merge_excited)
    missing, corrupt = add_durations(entries, on_missing, on_corrupt)
    report_problems(missing, save / "missing_files.txt", "missing wavs")
    report_problems(corrupt, save / "corrupt_files.txt", "unreadable wavs")

    test = {k: e for k, e in entries.items() if e["session"] == test_session}
    rest = {k: e for k, e in entries.items() if e["session"] != test_session}
    if valid_mode == "speaker":
        valid = {k: e for k, e in rest.items() if e["speaker"] == valid_speaker}
        train = {k: e for k, e in rest.items() if e["speaker"] != valid_speaker}
    else:
        keys = list(rest)
        train_ids, valid_ids = stratified_split(
            keys,
            [rest[k]["label"] for k in keys],
            (1 - valid_fraction, valid_fraction),
            seed,
        )
        train = {k: rest[k] for k in train_ids}
        valid = {k: rest[k] for k in valid_ids}
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        if not split:
            raise DataPreparationError(
                f"IEMOCAP {name} set is empty (data folder {root}, test "
                f"session {test_session}, valid speaker {valid_speaker})"
            )
    if valid_mode == "speaker":
        check_disjoint(
            {"train": train, "valid": valid, "test": test}, "speaker"
        )
    else:
        check_disjoint({"train": {**train, **valid}, "test": test}, "speaker")

    write_splits({"train": train, "valid": valid, "test": test}, save)
    write_list(CLASSES, save / "labels.txt")
    mark_prepared(options, opts_file)
    return outputs


def read_iemocap(root: Path, merge_excited: bool = True) -> Dict[str, dict]:
    """Reads the EmoEvaluation files of all sessions.

    Arguments
    ---------
    root : pathlib.Path
        The ``IEMOCAP_full_release`` folder.
    merge_excited : bool
        Map "exc" to "hap" (else drop "exc").

    Returns
    -------
    Dict[str, dict]
        Utterance id -> {"wav", "label", "speaker", "session", "gender"}
        for the 4 kept classes (durations not yet read).
    """
    sessions = sorted(p for p in root.glob("Session[1-5]") if p.is_dir())
    if not sessions:
        raise DataPreparationError(
            f"No Session1..Session5 folder in {root}; expected the "
            "IEMOCAP_full_release layout"
        )
    entries: Dict[str, dict] = {}
    dropped = 0
    for session_dir in sessions:
        session = int(session_dir.name[-1])
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        eval_files = sorted(eval_dir.glob("*.txt"))
        if not eval_files:
            raise DataPreparationError(
                f"No EmoEvaluation .txt file in {eval_dir}"
            )
        for eval_file in eval_files:
            for utt, code in _read_emo_evaluation(eval_file):
                match = _UTT.match(utt)
                if match is None or int(match.group(1)) != session:
                    raise DataPreparationError(
                        f"{eval_file}: unexpected utterance id {utt!r} for "
                        f"session {session}"
                    )
                label = CLASS_MAP.get(code)
                if label is None or (code == "exc" and not merge_excited):
                    dropped += 1
                    continue
                gender = match.group(2)
                dialog = utt.rsplit("_", 1)[0]
                wav = session_dir / "sentences" / "wav" / dialog / f"{utt}.wav"
                entries[utt] = {
                    "wav": str(wav.resolve()),
                    "label": label,
                    "speaker": f"Ses0{session}{gender}",
                    "session": session,
                    "gender": gender,
                }
    logger.info(
        "IEMOCAP: %d utterances kept, %d of other classes dropped",
        len(entries),
        dropped,
    )
    return entries


def _read_emo_evaluation(path: Path):
    """Yields (utterance id, emotion code) from an EmoEvaluation file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            if not line.startswith("["):
                continue
            match = _LINE.match(line.strip())
            if match is None:
                raise DataPreparationError(
                    f"{path} line {line_no}: cannot parse {line.strip()!r}"
                )
            utt, code = match.group(3), match.group(4)
            if code not in IEMOCAP_CODES:
                raise UnknownLabelError(
                    code, f"{path} line {line_no} ({utt})", IEMOCAP_CODES
                )
            yield utt, code
