"""Data preparation of DESED-layout sound event detection data.

DESED (DCASE task 4) keeps audio and strong labels apart::

    <data_folder>/audio/train/synthetic/*.wav
    <data_folder>/metadata/train/synthetic.tsv   (filename onset offset event_label)
    <data_folder>/audio/validation/validation/*.wav
    <data_folder>/metadata/validation/validation.tsv
    ...

Each split is a (TSV, audio folder) pair relative to ``data_folder``
(hparams ``train_tsv`` / ``train_audio``, ``valid_*``, ``test_*``). The
AudioSet strong-label layout (``segment_id start_time_seconds
end_time_seconds label``) is read with ``layout: audioset``. Every row is
checked (``ast_sb.dataio.strong_labels``: onset >= offset, negative times, times
past the file's end; classes of valid / test not in train) and the error
names ``file:line``.

Authors
 * ast_sb developers 2026
"""

import json
import os
from typing import Dict, List, Optional, Tuple

from ast_sb.dataio.manifests import is_prepared, mark_prepared
from ast_sb.training.sed_recipe import add_weak_clips, write_strong_manifest


def prepare_desed(
    data_folder: str,
    save_folder: str,
    splits: Dict[str, Tuple[str, str]],
    layout: str = "desed",
    weak: Optional[Tuple[str, str]] = None,
    skip_prep: bool = False,
) -> Tuple[Dict[str, str], List[str]]:
    """Writes ``<save_folder>/<split>.json`` and ``classes.json``.

    Arguments
    ---------
    data_folder : str
        Root of the DESED-layout data.
    save_folder : str
        Where the manifests go.
    splits : dict
        ``{"train": (tsv, audio_folder), "valid": ..., "test": ...}``,
        relative to ``data_folder``.
    layout : str
        ``desed`` or ``audioset``.
    weak : tuple of str, optional
        ``(tsv, audio_folder)`` of weakly labelled training clips (DESED
        ``metadata/train/weak.tsv``: ``filename event_labels``); they train
        the clip loss only.
    skip_prep : bool
        Reuse existing manifests.

    Returns
    -------
    manifests : dict
        Split -> manifest path.
    classes : list of str
        The training classes (sorted).
    """
    manifests = {
        split: os.path.join(save_folder, f"{split}.json") for split in splits
    }
    classes_file = os.path.join(save_folder, "classes.json")
    options = {
        "data_folder": os.path.abspath(data_folder),
        "splits": {k: list(v) for k, v in splits.items()},
        "layout": layout,
        "weak": list(weak) if weak else None,
    }
    options_file = os.path.join(save_folder, "prepare_options.json")
    outputs = list(manifests.values()) + [classes_file]
    if skip_prep or is_prepared(outputs, options, options_file):
        with open(classes_file, encoding="utf-8") as f:
            return manifests, json.load(f)
    tsv, audio = splits["train"]
    classes = write_strong_manifest(
        os.path.join(data_folder, tsv),
        os.path.join(data_folder, audio),
        manifests["train"],
        layout,
    )
    if weak:
        weak_classes = add_weak_clips(
            manifests["train"],
            os.path.join(data_folder, weak[0]),
            os.path.join(data_folder, weak[1]),
        )
        classes = sorted(set(classes) | set(weak_classes))
    for split, (tsv, audio) in splits.items():
        if split != "train":
            write_strong_manifest(
                os.path.join(data_folder, tsv),
                os.path.join(data_folder, audio),
                manifests[split],
                layout,
                classes=classes,
            )
    with open(classes_file, "w", encoding="utf-8") as f:
        json.dump(classes, f)
    mark_prepared(options, options_file)
    return manifests, classes


#: The hyperparameters :func:`prepare_desed_from_hparams` reads.
PREPARE_KEYS = (
    "data_folder",
    "save_folder",
    "layout",
    "train_tsv",
    "train_audio",
    "valid_tsv",
    "valid_audio",
    "test_tsv",
    "test_audio",
)


def prepare_desed_from_hparams(
    data_folder: str,
    save_folder: str,
    layout: str,
    train_tsv: str,
    train_audio: str,
    valid_tsv: str,
    valid_audio: str,
    test_tsv: str,
    test_audio: str,
    weak_tsv: Optional[str] = None,
    weak_audio: Optional[str] = None,
    skip_prep: bool = False,
) -> Tuple[Dict[str, str], List[str]]:
    """:func:`prepare_desed` with one argument per recipe hyperparameter
    (what ``ast_sb.training.preparation.prepare_on_main`` hands over)."""
    return prepare_desed(
        data_folder,
        save_folder,
        {
            "train": (train_tsv, train_audio),
            "valid": (valid_tsv, valid_audio),
            "test": (test_tsv, test_audio),
        },
        layout=layout,
        weak=(weak_tsv, weak_audio) if weak_tsv else None,
        skip_prep=skip_prep,
    )
