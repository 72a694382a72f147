"""Datasets for audio classification recipes (single- and multi-label).

Every recipe describes its data with JSON manifests, a dict keyed by clip id:

.. code-block:: json

    {"clip1": {"wav": "$data_root/a.wav", "duration": 5.0, "label": "dog"},
     "clip2": {"wav": "$data_root/b.wav", "duration": 10.0,
               "labels": ["Speech", "Music"]}}

``label`` (one string) is used for single-label tasks and ``labels`` (a list
of strings) for multi-label tasks. Optional ``start`` / ``stop`` fields (in
seconds) select a segment of the file. :func:`prepare_classification_datasets`
turns the manifests into SpeechBrain ``DynamicItemDataset`` objects that
provide

* ``sig``: the mono waveform at ``sample_rate`` (``ast_sb.dataio.audio.load_audio``
  resamples and downmixes), checked (decodes, finite, at least
  ``min_duration`` long: else an error naming the file, or with
  ``on_corrupt="skip"`` a :class:`SkippedClip` that :func:`collate_clips`
  leaves out of the batch) and optionally cropped (random training crops
  are drawn from ``(seed, epoch, clip id)``, see :class:`ClipLoader`);
* the label key (default ``label_encoded``): a ``LongTensor [1]`` class index
  (single-label, through a ``CategoricalEncoder``) or a float multi-hot
  vector ``[C]`` (multi-label).

Authors
 * ast_sb developers 2026
"""

import json
import logging
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.utils.data_pipeline import provides, takes

from ast_sb.dataio.audio import AudioLoadError, load_audio
from ast_sb.dataio.audio_checks import MIN_DURATION
from ast_sb.dataio.seeding import EpochSeeded
from ast_sb.errors import AudioSpectrogramTransformerError

__all__ = [
    "ClassificationDataset",
    "ClipLoader",
    "DatasetError",
    "EmptyBatch",
    "SkippedClip",
    "collate_clips",
    "build_label_encoder",
    "entry_labels",
    "load_manifest",
    "multi_hot",
    "prepare_classification_datasets",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


class DatasetError(AudioSpectrogramTransformerError, ValueError):
    """Raised for an invalid manifest: unknown labels, missing files, ...

    Example
    -------
    >>> raise DatasetError("bad manifest")
    Traceback (most recent call last):
    ...
    ast_sb.dataio.datasets.DatasetError: bad manifest
    """


def entry_labels(
    entry: dict, multi_label: bool, utt_id: str = "?"
) -> List[str]:
    """Returns the labels of one manifest entry.

    Arguments
    ---------
    entry : dict
        Manifest entry with ``label`` (str) or ``labels`` (list of str).
    multi_label : bool
        Whether the task is multi-label (``labels`` preferred; a single
        ``label`` counts as a one-element list).
    utt_id : str
        Id of the entry, for error messages.

    Returns
    -------
    list of str
        The labels (exactly one for single-label tasks).

    Example
    -------
    >>> entry_labels({"label": "dog"}, multi_label=False)
    ['dog']
    >>> entry_labels({"labels": ["Speech", "Music"]}, multi_label=True)
    ['Speech', 'Music']
    """
    if multi_label:
        if "labels" in entry:
            labels = entry["labels"]
            if isinstance(labels, str):
                labels = [lab for lab in labels.split(",") if lab]
        elif "label" in entry:
            labels = [entry["label"]]
        else:
            raise DatasetError(
                f"Manifest entry {utt_id!r} has neither 'labels' nor 'label'"
            )
        return [str(lab) for lab in labels]
    if "label" in entry:
        return [str(entry["label"])]
    if "labels" in entry and len(entry["labels"]) == 1:
        return [str(entry["labels"][0])]
    raise DatasetError(
        f"Manifest entry {utt_id!r} needs exactly one 'label' for a "
        f"single-label task (got keys {sorted(entry)}); set multi_label: True "
        f"for multi-label data."
    )


def multi_hot(
    labels: Sequence[str], label_encoder: CategoricalEncoder
) -> torch.Tensor:
    """Encodes a list of labels as a float multi-hot vector ``[C]``.

    Arguments
    ---------
    labels : sequence of str
        Labels of one clip.
    label_encoder : CategoricalEncoder
        Encoder holding the C classes.

    Returns
    -------
    torch.Tensor
        Float tensor ``[C]`` with ones at the labels' indices.

    Example
    -------
    >>> enc = CategoricalEncoder()
    >>> enc.update_from_iterable(["a", "b", "c"])
    >>> multi_hot(["c", "a"], enc)
    tensor([1., 0., 1.])
    """
    target = torch.zeros(len(label_encoder))
    if len(labels) > 0:
        target[label_encoder.encode_sequence_torch(list(labels))] = 1.0
    return target


def build_label_encoder(
    path: str,
    labels: Iterable[str],
) -> CategoricalEncoder:
    """Loads the label encoder from ``path`` or creates it from ``labels``.

    New encoders index the distinct labels in sorted order (reproducible);
    they are written to ``path`` with ``CategoricalEncoder.load_or_create``
    (DDP-safe).

    Arguments
    ---------
    path : str
        Label encoder file (e.g. ``save/label_encoder.txt``).
    labels : iterable of str
        Training labels (with repetitions).

    Returns
    -------
    CategoricalEncoder
        The encoder.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "label_encoder.txt")
    >>> enc = build_label_encoder(path, ["dog", "cat", "dog"])
    >>> enc.lab2ind
    {'cat': 0, 'dog': 1}
    >>> build_label_encoder(path, []).lab2ind
    {'cat': 0, 'dog': 1}
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    encoder = CategoricalEncoder()
    encoder.load_or_create(path=path, from_iterables=[sorted(set(labels))])
    encoder.expect_len(len(encoder.lab2ind))
    return encoder


ON_CORRUPT = ("raise", "skip")


class SkippedClip:
    """Stands in for the waveform of a clip that cannot be used.

    Returned as ``sig`` by :class:`ClipLoader` under ``on_corrupt="skip"``;
    :func:`collate_clips` leaves such examples out of the batch and lists
    them in the batch's ``skipped_clips``.

    Arguments
    ---------
    utt_id : str
        Id of the clip.
    reason : str
        What is wrong (names the file).

    Example
    -------
    >>> SkippedClip("a", "Audio file contains NaN or inf samples: a.wav")
    SkippedClip('a', 'Audio file contains NaN or inf samples: a.wav')
    """

    def __init__(self, utt_id: str, reason: str):
        self.utt_id = utt_id
        self.reason = reason

    def __repr__(self) -> str:
        return f"SkippedClip({self.utt_id!r}, {self.reason!r})"


class ClipLoader(EpochSeeded):
    """Dynamic item ``(id, wav, start, stop) -> sig``: load, check, crop.

    The waveform is loaded with :func:`ast_sb.dataio.audio.load_audio` (mono,
    resampled), cut to the ``start`` / ``stop`` segment, checked (a file
    that does not decode, holds NaN / inf samples or is shorter than
    ``min_duration`` raises an error naming it, or with ``on_corrupt="skip"``
    gives a :class:`SkippedClip`), and cropped to ``crop_seconds``.

    Random crops do not use the global random generator: the offset is a
    hash of ``(seed, epoch, clip id)``, so a clip gets the same crop in the
    same epoch of any run (a run resumed from a checkpoint reproduces the
    uninterrupted one, whatever the data-loader workers or the order in
    which items are loaded) and a new crop every epoch (the training
    dataset's ``set_epoch``, called by the Brain, sets the epoch).

    Arguments
    ---------
    sample_rate : int
        Sampling rate of ``sig``.
    crop_seconds : float, optional
        Longest waveform; longer clips are cropped.
    random_crop : bool
        Crop at a random offset (else from the start).
    seed : int
        Seed of the random crops.
    min_duration : float
        Shortest accepted clip (seconds, after the segment cut).
    on_corrupt : str
        "raise" or "skip" for unusable clips.

    Example
    -------
    >>> from ast_sb.dataio.audio import save_audio
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> save_audio(path, torch.randn(16000) * 0.1, 16000)
    >>> loader = ClipLoader(crop_seconds=0.5, random_crop=True, seed=1)
    >>> a = loader("a", path)
    >>> torch.manual_seed(123) and torch.equal(a, loader("a", path))
    True
    >>> loader.set_epoch(2)
    >>> a.shape, torch.equal(a, loader("a", path))
    (torch.Size([8000]), False)
    >>> ClipLoader(min_duration=2.0, on_corrupt="skip")("a", path)
    SkippedClip('a', 'Audio file ... is 1.0000 s long, shorter than min_duration=2.0 s')
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        crop_seconds: Optional[float] = None,
        random_crop: bool = False,
        seed: int = 0,
        min_duration: float = MIN_DURATION,
        on_corrupt: str = "raise",
    ):
        if on_corrupt not in ON_CORRUPT:
            raise ValueError(
                f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}"
            )
        if min_duration < 0:
            raise ValueError(f"min_duration must be >= 0, got {min_duration}")
        self.sample_rate = int(sample_rate)
        self.crop = (
            None
            if crop_seconds is None
            else int(round(crop_seconds * sample_rate))
        )
        self.random_crop = bool(random_crop)
        self.init_seed(seed)
        self.min_duration = float(min_duration)
        self.min_samples = int(math.ceil(min_duration * sample_rate))
        self.on_corrupt = on_corrupt

    def crop_offset(self, utt_id: str, max_offset: int) -> int:
        """Random crop offset in ``[0, max_offset]`` of a clip this epoch.

        Arguments
        ---------
        utt_id : str
            Clip id.
        max_offset : int
            Largest offset.

        Returns
        -------
        int
            The offset.
        """
        return self.clip_hash(utt_id) % (max_offset + 1)

    def load(self, wav: str, start=None, stop=None) -> torch.Tensor:
        """Loads and checks the (segment of the) file; raises if unusable.

        Arguments
        ---------
        wav : str
            Audio file.
        start : float, optional
            Segment start (seconds).
        stop : float, optional
            Segment end (seconds).

        Returns
        -------
        torch.Tensor
            Waveform ``[N]``.
        """
        sig = load_audio(wav, sample_rate=self.sample_rate)
        if start is not None or stop is not None:
            begin = int(round(float(start or 0.0) * self.sample_rate))
            end = (
                None
                if stop is None
                else int(round(float(stop) * self.sample_rate))
            )
            sig = sig[begin:end]
            if sig.numel() == 0:
                raise DatasetError(
                    f"Segment start={start} stop={stop} of {wav} is empty"
                )
        if sig.shape[0] < self.min_samples:
            what = (
                "Audio file" if start is None and stop is None else "Segment of"
            )
            raise DatasetError(
                f"{what} {wav} is {sig.shape[0] / self.sample_rate:.4f} s "
                f"long, shorter than min_duration={self.min_duration} s"
            )
        return sig

    def __call__(self, utt_id: str, wav: str, start=None, stop=None):
        """Returns the clip's waveform ``[N]`` (or a :class:`SkippedClip`).

        Arguments
        ---------
        utt_id : str
            Clip id (seeds the random crop).
        wav, start, stop : str, float, float
            Audio file and optional segment (seconds), as in :meth:`load`.

        Returns
        -------
        torch.Tensor or SkippedClip
            The waveform, or the reason it is skipped.
        """
        try:
            sig = self.load(wav, start, stop)
        except (AudioLoadError, DatasetError) as err:
            if self.on_corrupt == "raise":
                raise
            return SkippedClip(utt_id, str(err))
        if self.crop is not None and sig.shape[0] > self.crop:
            offset = 0
            if self.random_crop:
                offset = self.crop_offset(utt_id, sig.shape[0] - self.crop)
            sig = sig[offset : offset + self.crop]
        return sig


class ClassificationDataset(DynamicItemDataset):
    """A ``DynamicItemDataset`` whose ``set_epoch`` reaches its crops.

    The Brain calls ``set_epoch`` on the training data before each epoch;
    the dataset passes it to its :class:`ClipLoader` (``clip_loader``).

    Arguments
    ---------
    data : dict
        Manifest entries keyed by clip id.
    clip_loader : ClipLoader, optional
        Provides ``sig`` (added as a dynamic item).

    Example
    -------
    >>> data = ClassificationDataset({"a": {"wav": "a.wav"}}, ClipLoader())
    >>> data.set_epoch(3)
    >>> data.clip_loader.epoch
    3
    """

    def __init__(self, data, clip_loader: Optional[ClipLoader] = None):
        if clip_loader is not None:
            for entry in data.values():
                entry.setdefault("start", None)
                entry.setdefault("stop", None)
        super().__init__(data)
        self.clip_loader = clip_loader
        if clip_loader is not None:
            self.add_dynamic_item(
                clip_loader,
                takes=["id", "wav", "start", "stop"],
                provides="sig",
            )

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch of the random crops.

        Arguments
        ---------
        epoch : int
            The epoch.
        """
        if self.clip_loader is not None:
            self.clip_loader.set_epoch(epoch)


class EmptyBatch:
    """A batch whose every clip was skipped (see :func:`collate_clips`).

    Arguments
    ---------
    skipped_clips : dict
        Clip id -> reason.

    Example
    -------
    >>> batch = EmptyBatch({"a": "too short"})
    >>> batch.batchsize, batch.to("cpu") is batch
    (0, True)
    """

    batchsize = 0

    def __init__(self, skipped_clips: Dict[str, str]):
        self.skipped_clips = skipped_clips

    def to(self, *args, **kwargs) -> "EmptyBatch":
        """Nothing to move; returns the batch."""
        return self

    def pin_memory(self) -> "EmptyBatch":
        """Nothing to pin; returns the batch."""
        return self


def collate_clips(examples: List[dict]):
    """``PaddedBatch`` of the usable examples; lists the skipped ones.

    Examples whose ``sig`` is a :class:`SkippedClip` are left out; their
    ids and reasons are in the batch's ``skipped_clips`` attribute (the
    Brain counts and reports them). A batch with no usable example is an
    :class:`EmptyBatch`.

    Arguments
    ---------
    examples : list of dict
        Dataset items.

    Returns
    -------
    PaddedBatch or EmptyBatch
        The batch, with ``skipped_clips`` (id -> reason).

    Example
    -------
    >>> batch = collate_clips([
    ...     {"id": "a", "sig": torch.ones(3)},
    ...     {"id": "b", "sig": SkippedClip("b", "NaN samples")},
    ... ])
    >>> batch.id, batch.sig.data.shape, batch.skipped_clips
    (['a'], torch.Size([1, 3]), {'b': 'NaN samples'})
    """
    good, skipped = [], {}
    for example in examples:
        sig = example.get("sig")
        if isinstance(sig, SkippedClip):
            skipped[sig.utt_id] = sig.reason
        else:
            good.append(example)
    batch = PaddedBatch(good) if good else EmptyBatch(skipped)
    batch.skipped_clips = skipped
    return batch


def _label_pipeline(label_encoder, multi_label, label_key):
    @takes("__labels__")
    @provides(label_key)
    def label_pipeline(labels):
        if multi_label:
            return multi_hot(labels, label_encoder)
        return label_encoder.encode_label_torch(labels[0])

    return label_pipeline


def prepare_classification_datasets(
    train_json: Optional[str],
    valid_json: Optional[str],
    test_json: Optional[str],
    data_folder: str,
    label_encoder_path: str,
    multi_label: bool = False,
    sample_rate: int = 16000,
    label_key: str = "label_encoded",
    train_crop_seconds: Optional[float] = None,
    eval_crop_seconds: Optional[float] = None,
    random_crop: bool = True,
    replacements: Optional[Dict[str, str]] = None,
    check_files: bool = True,
    seed: int = 0,
    min_duration: float = MIN_DURATION,
    on_corrupt: str = "raise",
) -> Tuple[Dict[str, DynamicItemDataset], CategoricalEncoder]:
    """Builds the datasets and the label encoder of a classification recipe.

    Arguments
    ---------
    train_json : str, optional
        Training manifest; its labels define the classes of a new label
        encoder. May be None when the encoder file already exists (e.g. to
        evaluate only).
    valid_json : str, optional
        Validation manifest (skipped if None).
    test_json : str, optional
        Test manifest (skipped if None).
    data_folder : str
        Value of ``$data_root`` in the manifests.
    label_encoder_path : str
        Label encoder file, loaded if it exists, else created and saved.
    multi_label : bool
        False: one ``label`` per clip, encoded as a ``LongTensor [1]``.
        True: ``labels`` lists, encoded as float multi-hot ``[C]``.
    sample_rate : int
        Sampling rate of ``sig`` (files are resampled and downmixed).
    label_key : str
        Name of the encoded label item.
    train_crop_seconds : float, optional
        Longest training waveform; longer clips are cropped (at a random
        offset if ``random_crop``, drawn from ``(seed, epoch, clip id)``,
        see :class:`ClipLoader`).
    eval_crop_seconds : float, optional
        Longest validation/test waveform (cropped from the start).
    random_crop : bool
        Random training crops (else from the start).
    replacements : dict, optional
        Extra ``$key`` replacements for the manifests.
    check_files : bool
        Whether to check up front that every audio file exists.
    seed : int
        Seed of the random training crops.
    min_duration : float
        Shortest usable clip (seconds); default one 25 ms fbank frame.
    on_corrupt : str
        A clip that does not decode, has NaN / inf samples or is shorter
        than ``min_duration``: "raise" an error naming the file when it is
        loaded, or "skip" it (it is left out of its batch and the Brain
        reports it at the end of the epoch).

    Returns
    -------
    datasets : dict
        ``DynamicItemDataset`` per split ("train", "valid", "test"; only the
        manifests given), output keys ``id``, ``sig`` and ``label_key``.
    label_encoder : CategoricalEncoder
        The label encoder.

    Example
    -------
    >>> import json
    >>> from ast_sb.dataio.audio import save_audio
    >>> tmp = getfixture("tmpdir")
    >>> save_audio(tmp / "a.wav", torch.randn(22050) * 0.1, 22050)
    >>> save_audio(tmp / "b.wav", torch.randn(8000) * 0.1, 8000)
    >>> manifest = {
    ...     "a": {"wav": "$data_root/a.wav", "duration": 1.0, "label": "x"},
    ...     "b": {"wav": "$data_root/b.wav", "duration": 1.0, "label": "y"},
    ... }
    >>> with open(tmp / "train.json", "w") as f:
    ...     json.dump(manifest, f)
    >>> datasets, encoder = prepare_classification_datasets(
    ...     str(tmp / "train.json"), None, str(tmp / "train.json"),
    ...     str(tmp), str(tmp / "label_encoder.txt"),
    ... )
    >>> sorted(datasets), len(encoder)
    (['test', 'train'], 2)
    >>> item = datasets["train"][0]
    >>> item["id"], item["sig"].shape, item["label_encoded"]
    ('a', torch.Size([16000]), tensor([0]))
    """
    all_replacements = {"data_root": data_folder}
    all_replacements.update(replacements or {})
    manifests = {"train": train_json, "valid": valid_json, "test": test_json}

    datasets: Dict[str, DynamicItemDataset] = {}
    for split, path in manifests.items():
        if path is None:
            continue
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{split} manifest not found: {path}")
        data = load_manifest(path, all_replacements)
        if len(data) == 0:
            raise DatasetError(f"{split} manifest {path} has no entries")
        for utt_id, entry in data.items():
            if "wav" not in entry:
                raise DatasetError(f"Entry {utt_id!r} of {path} has no 'wav'")
            entry["__labels__"] = entry_labels(entry, multi_label, utt_id)
        crop = train_crop_seconds if split == "train" else eval_crop_seconds
        loader = ClipLoader(
            sample_rate,
            crop,
            random_crop=random_crop and split == "train",
            seed=seed,
            min_duration=min_duration,
            on_corrupt=on_corrupt,
        )
        dataset = ClassificationDataset(data, loader)
        if check_files:
            _check_files(dataset, path)
        datasets[split] = dataset

    if not os.path.isfile(label_encoder_path) and "train" not in datasets:
        raise DatasetError(
            f"Label encoder {label_encoder_path} does not exist and no "
            f"training manifest was given to create it."
        )
    train_labels: List[str] = []
    if "train" in datasets:
        for entry in datasets["train"].data.values():
            train_labels.extend(entry["__labels__"])
    label_encoder = build_label_encoder(label_encoder_path, train_labels)
    for split, dataset in datasets.items():
        _check_labels(
            dataset, label_encoder, manifests[split], label_encoder_path
        )

    label_pipeline = _label_pipeline(label_encoder, multi_label, label_key)
    for dataset in datasets.values():
        dataset.add_dynamic_item(label_pipeline)
        dataset.set_output_keys(["id", "sig", label_key])
    logger.info(
        "Datasets: %s; %d classes",
        ", ".join(f"{k} {len(v)}" for k, v in datasets.items()),
        len(label_encoder),
    )
    return datasets, label_encoder


def load_manifest(
    path: str, replacements: Optional[Dict[str, str]] = None
) -> Dict[str, dict]:
    """Reads a JSON manifest and substitutes ``$key`` placeholders.

    ``$key``, ``${key}`` and SpeechBrain's ``{key}`` are replaced in all
    string values (other text, e.g. braces in labels, is left alone).

    Arguments
    ---------
    path : str
        JSON file (dict keyed by clip id).
    replacements : dict, optional
        Placeholder name -> value, e.g. ``{"data_root": "/data/esc50"}``.

    Returns
    -------
    dict
        The manifest with placeholders replaced.

    Example
    -------
    >>> import json
    >>> path = str(getfixture("tmpdir") / "m.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"a": {"wav": "$data_root/a.wav", "label": "{x}"}}, f)
    >>> load_manifest(path, {"data_root": "/data"})
    {'a': {'wav': '/data/a.wav', 'label': '{x}'}}
    """
    with open(path, encoding="utf-8") as fin:
        try:
            data = json.load(fin)
        except ValueError as err:
            raise DatasetError(f"Manifest {path} is not valid JSON: {err}")
    if not isinstance(data, dict):
        raise DatasetError(
            f"Manifest {path} must be a JSON object (id -> entry)"
        )
    # Longest keys first so that $data_root_2 is not hit by $data_root.
    keys = sorted(replacements or {}, key=len, reverse=True)

    def substitute(value):
        if isinstance(value, str):
            for key in keys:
                new = str(replacements[key])
                for pattern in ("${" + key + "}", "$" + key, "{" + key + "}"):
                    value = value.replace(pattern, new)
            return value
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    out = {}
    for utt_id, entry in data.items():
        if not isinstance(entry, dict):
            raise DatasetError(f"Entry {utt_id!r} of {path} is not an object")
        out[str(utt_id)] = substitute(entry)
    return out


def _check_files(dataset: DynamicItemDataset, manifest: str) -> None:
    missing = [
        (utt_id, entry["wav"])
        for utt_id, entry in dataset.data.items()
        if not os.path.isfile(entry["wav"])
    ]
    if missing:
        shown = ", ".join(f"{i} ({p})" for i, p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FileNotFoundError(
            f"{len(missing)} audio file(s) of {manifest} are missing: "
            f"{shown}{more}"
        )


def _check_labels(
    dataset: DynamicItemDataset,
    label_encoder: CategoricalEncoder,
    manifest: str,
    encoder_path: str,
) -> None:
    unknown: Dict[str, str] = {}
    for utt_id, entry in dataset.data.items():
        for label in entry["__labels__"]:
            if label not in label_encoder.lab2ind and label not in unknown:
                unknown[label] = utt_id
    if unknown:
        shown = ", ".join(f"{lab!r} (e.g. {i})" for lab, i in unknown.items())
        raise DatasetError(
            f"Unknown label(s) in {manifest}: {shown}. Known labels come from "
            f"the training data / {encoder_path} ({len(label_encoder)} "
            f"classes); delete that file if the label set changed."
        )
