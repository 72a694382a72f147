"""Strong (onset / offset) labels: TSV readers, frame targets, datasets.

Two layouts are read:

* DESED / DCASE task 4: a tab-separated file with the header
  ``filename onset offset event_label`` (a row with empty onset, offset
  and label lists a file without events);
* AudioSet strong labels: ``segment_id start_time_seconds
  end_time_seconds label``; the file of a segment is ``<segment_id>.wav``.

Every row is checked; a bad one raises :class:`StrongLabelError` naming
``file:line``: onset >= offset, negative times, times past the audio
file's end (when its duration is known), a label outside the given classes.

Frame targets: output frame ``k`` (of ``frame_hop`` seconds, the count of
:func:`ast_sb.lobes.frame_level.output_frame_count`) is on for a class when its
centre ``(k + 0.5) * frame_hop`` lies in one of the class's events
``[onset, offset)``.

Authors
 * ast_sb developers 2026
"""

import csv
import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.data_pipeline import provides, takes

from ast_sb.dataio.audio import load_audio
from ast_sb.errors import DataPreparationError
from ast_sb.lobes.features import frame_count
from ast_sb.lobes.frame_level import output_frame_count

__all__ = [
    "StrongLabelError",
    "read_strong_labels",
    "read_weak_labels",
    "frame_targets",
    "weak_targets",
    "strong_label_dataset",
    "LAYOUTS",
]

Event = Tuple[float, float, str]

LAYOUTS = {
    "desed": ("filename", "onset", "offset", "event_label"),
    "audioset": (
        "segment_id",
        "start_time_seconds",
        "end_time_seconds",
        "label",
    ),
}


class StrongLabelError(DataPreparationError):
    """A bad strong-label file or row (the message names ``file:line``).

    Example
    -------
    >>> issubclass(StrongLabelError, ValueError)
    True
    """


def _time(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise StrongLabelError(f"{where}: {column} {text!r} is not a number.")
    if value != value or value in (float("inf"), float("-inf")):
        raise StrongLabelError(f"{where}: {column} {text!r} is not finite.")
    return value


def read_strong_labels(
    path: str,
    layout: str = "desed",
    classes: Optional[Sequence[str]] = None,
    durations: Optional[Mapping[str, float]] = None,
    end_tolerance: float = 1e-3,
) -> Dict[str, List[Event]]:
    """Reads a strong-label TSV into ``{filename: [(onset, offset, label)]}``.

    Arguments
    ---------
    path : str
        The TSV file.
    layout : str
        ``"desed"`` or ``"audioset"`` (see the module docstring).
    classes : sequence of str, optional
        The allowed labels (e.g. of the training set, for a test file);
        None accepts any label.
    durations : mapping, optional
        Audio duration in seconds per filename; an event ending more than
        ``end_tolerance`` seconds past it is an error.
    end_tolerance : float
        Seconds an offset may exceed the file's duration (annotation
        rounding).

    Returns
    -------
    dict
        Events per file in file order (a file without events maps to []).

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = (tmp / "a.tsv").write_text(
    ...     "filename\\tonset\\toffset\\tevent_label\\n"
    ...     "x.wav\\t0.5\\t1.25\\tDog\\n"
    ...     "y.wav\\t\\t\\t\\n"
    ... )
    >>> read_strong_labels(str(tmp / "a.tsv"))
    {'x.wav': [(0.5, 1.25, 'Dog')], 'y.wav': []}
    >>> _ = (tmp / "b.tsv").write_text(
    ...     "filename\\tonset\\toffset\\tevent_label\\nx.wav\\t2\\t1\\tDog\\n"
    ... )
    >>> read_strong_labels(str(tmp / "b.tsv"))
    Traceback (most recent call last):
    ...
    ast_sb.dataio.strong_labels.StrongLabelError: .../b.tsv:2: onset 2.0 >= offset 1.0 (x.wav, Dog).
    """
    if layout not in LAYOUTS:
        raise ValueError(
            f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}."
        )
    columns = LAYOUTS[layout]
    allowed = None if classes is None else set(classes)
    events: Dict[str, List[Event]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:4]] != list(columns):
            raise StrongLabelError(
                f"{path}:1: expected the header {' '.join(columns)!r} "
                f"({layout} layout), got {header!r}."
            )
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}:{line}"
            if len(row) < 4:
                row = row + [""] * (4 - len(row))
            name, onset_text, offset_text, label = (c.strip() for c in row[:4])
            if layout == "audioset":
                name = name + ".wav"
            if not name:
                raise StrongLabelError(f"{where}: empty file name.")
            file_events = events.setdefault(name, [])
            if not (onset_text or offset_text or label):
                continue  # a file without events
            onset = _time(onset_text, where, "onset")
            offset = _time(offset_text, where, "offset")
            if onset < 0 or offset < 0:
                raise StrongLabelError(
                    f"{where}: negative time (onset {onset}, offset "
                    f"{offset}) ({name}, {label})."
                )
            if onset >= offset:
                raise StrongLabelError(
                    f"{where}: onset {onset} >= offset {offset} "
                    f"({name}, {label})."
                )
            if not label:
                raise StrongLabelError(f"{where}: empty event label ({name}).")
            if allowed is not None and label not in allowed:
                raise StrongLabelError(
                    f"{where}: unknown class {label!r} ({name}); known: "
                    f"{sorted(allowed)}."
                )
            if durations is not None:
                if name not in durations:
                    raise StrongLabelError(
                        f"{where}: {name} has no known duration (missing "
                        "audio file?)."
                    )
                if offset > durations[name] + end_tolerance:
                    raise StrongLabelError(
                        f"{where}: offset {offset} is past the end of "
                        f"{name} ({durations[name]:.3f} s)."
                    )
            file_events.append((onset, offset, label))
    return events


def read_weak_labels(
    path: str, classes: Optional[Sequence[str]] = None
) -> Dict[str, List[str]]:
    """Reads a DESED weak-label TSV (``filename event_labels``, labels
    separated by commas) into ``{filename: [labels]}``.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = (tmp / "w.tsv").write_text(
    ...     "filename\\tevent_labels\\nx.wav\\tDog,Cat\\ny.wav\\tBird\\n")
    >>> read_weak_labels(str(tmp / "w.tsv"))
    {'x.wav': ['Dog', 'Cat'], 'y.wav': ['Bird']}
    >>> read_weak_labels(str(tmp / "w.tsv"), classes=["Dog", "Cat"])
    Traceback (most recent call last):
    ...
    ast_sb.dataio.strong_labels.StrongLabelError: .../w.tsv:3: unknown class 'Bird' (y.wav); known: ['Cat', 'Dog'].
    """
    allowed = None if classes is None else set(classes)
    labels: Dict[str, List[str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != [
            "filename",
            "event_labels",
        ]:
            raise StrongLabelError(
                f"{path}:1: expected the header 'filename event_labels' "
                f"(DESED weak labels), got {header!r}."
            )
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"{path}:{line}"
            name = row[0].strip()
            names = [
                x.strip() for x in (row[1] if len(row) > 1 else "").split(",")
            ]
            names = [x for x in names if x]
            if not name or not names:
                raise StrongLabelError(
                    f"{where}: a row needs a file name and at least one label."
                )
            for label in names:
                if allowed is not None and label not in allowed:
                    raise StrongLabelError(
                        f"{where}: unknown class {label!r} ({name}); known: "
                        f"{sorted(allowed)}."
                    )
            if name in labels:
                raise StrongLabelError(f"{where}: {name} is listed twice.")
            labels[name] = names
    return labels


def frame_targets(
    events: Sequence[Event],
    n_frames: int,
    frame_hop: float,
    classes: Sequence[str],
) -> torch.Tensor:
    """[K, C] float frame targets of one file's events.

    Example
    -------
    >>> frame_targets([(0.1, 0.3, "b")], 5, 0.1, ["a", "b"]).T
    tensor([[0., 0., 0., 0., 0.],
            [0., 1., 1., 0., 0.]])
    """
    index = {c: i for i, c in enumerate(classes)}
    target = torch.zeros(n_frames, len(classes))
    if not events:
        return target
    onsets = torch.tensor([e[0] for e in events], dtype=torch.float64)
    offsets = torch.tensor([e[1] for e in events], dtype=torch.float64)
    cls = torch.tensor([index[e[2]] for e in events])
    centres = (torch.arange(n_frames, dtype=torch.float64) + 0.5) * frame_hop
    inside = (centres[:, None] >= onsets) & (centres[:, None] < offsets)
    # [K, E] -> [K, C]: a frame is on if any event of the class covers it
    onehot = torch.nn.functional.one_hot(cls, len(classes)).double()
    return (inside.double() @ onehot > 0).float()


def weak_targets(
    events: Sequence[Event], classes: Sequence[str]
) -> torch.Tensor:
    """[C] multi-hot of the classes present in a file.

    Example
    -------
    >>> weak_targets([(0.0, 1.0, "b")], ["a", "b"])
    tensor([0., 1.])
    """
    target = torch.zeros(len(classes))
    index = {c: i for i, c in enumerate(classes)}
    for _, _, label in events:
        target[index[label]] = 1.0
    return target


def strong_label_dataset(
    manifest: str,
    classes: Sequence[str],
    frame_hop: float,
    sample_rate: int = 16000,
) -> DynamicItemDataset:
    """A SpeechBrain dataset of a strong-label JSON manifest.

    The manifest maps ids to ``{"wav": path, "events": [[onset, offset,
    label], ...]}`` (a weakly labelled clip has ``"labels": [...]``
    instead of ``"events"``). Output keys: ``id``, ``sig``,
    ``frame_targets`` [K, C], ``weak_targets`` [C], ``strong`` (1.0 for a
    strongly labelled clip, else 0.0: its frame targets are unknown).

    Example
    -------
    >>> import soundfile as sf
    >>> tmp = getfixture("tmp_path")
    >>> sf.write(tmp / "x.wav", torch.zeros(16000).numpy(), 16000)
    >>> _ = (tmp / "m.json").write_text(json.dumps({"x": {
    ...     "wav": str(tmp / "x.wav"), "events": [[0.2, 0.5, "b"]]}}))
    >>> data = strong_label_dataset(str(tmp / "m.json"), ["a", "b"], 0.1)
    >>> item = data[0]
    >>> item["frame_targets"][:, 1].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> item["weak_targets"].tolist(), item["strong"]
    ([0.0, 1.0], 1.0)
    """
    with open(manifest, encoding="utf-8") as f:
        data = json.load(f)
    index = {c: i for i, c in enumerate(classes)}
    for utt_id, entry in data.items():
        labels = [e[2] for e in entry.get("events", [])] + list(
            entry.get("labels", [])
        )
        for label in labels:
            if label not in index:
                raise StrongLabelError(
                    f"{manifest}: clip {utt_id!r} has unknown class "
                    f"{label!r}; known: {list(classes)}."
                )
        if not os.path.isfile(entry["wav"]):
            raise StrongLabelError(
                f"{manifest}: clip {utt_id!r}: no audio file {entry['wav']}."
            )

    @takes("wav", "events", "labels")
    @provides("sig", "frame_targets", "weak_targets", "strong")
    def pipeline(wav, events=None, labels=None):
        sig = load_audio(wav, sample_rate)
        yield sig
        n_out = int(
            output_frame_count(torch.tensor(frame_count(len(sig))), frame_hop)
        )
        strong = events is not None
        events = [tuple(e) for e in events or []]
        yield frame_targets(events, n_out, frame_hop, classes)
        weak = weak_targets(events, classes)
        for label in labels or []:
            weak[index[label]] = 1.0
        yield weak
        yield 1.0 if strong else 0.0

    for entry in data.values():
        entry.setdefault("events", None)
        entry.setdefault("labels", None)
    return DynamicItemDataset(
        data,
        dynamic_items=[pipeline],
        output_keys=["id", "sig", "frame_targets", "weak_targets", "strong"],
    )
