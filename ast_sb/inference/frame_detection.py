"""Sound event detection with a trained frame-level AST: files -> events.

:class:`FrameLevelDetector` holds the trained front end, normaliser,
encoder and frame head (:mod:`ast_sb.lobes.frame_level`). A waveform is cut into
consecutive, non-overlapping windows of ``window_seconds`` (a multiple of
the head's frame hop, at most the encoder's grid); each window's frames
are computed with its real length (padding convention), and the windows'
frames are concatenated, so events come at frame resolution (e.g. 40 ms)
rather than at a sliding window's hop. :func:`ast_sb.inference.sed_postprocessing
.scores_to_frame_events` turns the frame probabilities into events.

:func:`save_detector` / :func:`load_detector` write and read a detector
folder: ``ast_sb_detector.json`` (the classes and constructor arguments of
the four modules, the labels and the post-processing) and
``model.safetensors`` (their weights); loading builds only the
``ast_sb`` classes named there (no code runs from the folder).

Authors
 * ast_sb developers 2026
"""

import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ast_sb.dataio.audio import load_audio
from ast_sb.inference.pipeline import accepts_lengths
from ast_sb.inference.sed_postprocessing import scores_to_frame_events
from ast_sb.lobes.features import (
    AudioSpectrogramNormalizer,
    KaldiFbank,
)
from ast_sb.lobes.frame_level import AudioSpectrogramTransformerFrameClassifier
from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder

__all__ = [
    "FrameLevelDetector",
    "is_detector_folder",
    "save_detector",
    "load_detector",
]

Event = Tuple[float, float, str]
DESCRIPTION = "ast_sb_detector.json"
WEIGHTS = "model.safetensors"
_CLASSES = {
    "KaldiFbank": KaldiFbank,
    "AudioSpectrogramNormalizer": AudioSpectrogramNormalizer,
    "AudioSpectrogramTransformerEncoder": AudioSpectrogramTransformerEncoder,
    "AudioSpectrogramTransformerFrameClassifier": AudioSpectrogramTransformerFrameClassifier,
}
_SLOTS = ("compute_features", "mean_var_norm", "embedding_model", "classifier")


def frame_forward(
    modules: Dict[str, torch.nn.Module],
    wavs: torch.Tensor,
    lengths: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eval forward of a padded batch: ``(frame_logits, clip_probs, mask)``."""

    def call(name, x, lens):
        module = modules[name]
        return module(x, lens) if accepts_lengths(module) else module(x)

    feats = call("compute_features", wavs.float(), lengths).float()
    convert = getattr(
        modules["compute_features"], "relative_frame_lengths", None
    )
    if convert is not None:
        lengths = convert(lengths, wavs.shape[-1])
    feats = call("mean_var_norm", feats, lengths)
    tokens = modules["embedding_model"].forward_features(feats, lengths)
    return modules["classifier"](tokens, lengths, feats.shape[1])


class FrameLevelDetector:
    """Frame probabilities and events of waveforms and files.

    Arguments
    ---------
    modules : dict
        ``compute_features``, ``mean_var_norm``, ``embedding_model`` (AST
        encoder with ``use_padding_mask``), ``classifier`` (frame head).
    labels : sequence of str
        Class names.
    sample_rate : int
        Model rate.
    window_seconds : float, optional
        Window length (default: the encoder's grid, at most 10 s), rounded
        down to a multiple of the frame hop.
    threshold, low_threshold, median_window
        Post-processing (:func:`ast_sb.inference.sed_postprocessing.scores_to_frame_events`).
    batch_size : int
        Windows per forward pass.
    """

    def __init__(
        self,
        modules: Dict[str, torch.nn.Module],
        labels: Sequence[str],
        sample_rate: int = 16000,
        window_seconds: Optional[float] = None,
        threshold: Union[float, Sequence[float]] = 0.5,
        low_threshold: Optional[Union[float, Sequence[float]]] = None,
        median_window: Union[int, Sequence[int]] = 1,
        batch_size: int = 8,
    ):
        self.modules = {name: modules[name] for name in _SLOTS}
        for module in self.modules.values():
            module.eval()
        self.labels = list(labels)
        self.sample_rate = int(sample_rate)
        head = self.modules["classifier"]
        self.frame_hop = float(head.frame_hop)
        grid = getattr(self.modules["embedding_model"], "target_length", 1000)
        max_seconds = min(10.0, ((grid - 1) * 160 + 400) / 16000)
        window = (
            max_seconds if window_seconds is None else float(window_seconds)
        )
        hops = math.floor(window / self.frame_hop + 1e-9)
        if hops < 1:
            raise ValueError(
                f"window_seconds {window} is shorter than a frame."
            )
        self.frames_per_window = hops
        self.window_seconds = hops * self.frame_hop
        self.threshold = threshold
        self.low_threshold = low_threshold
        self.median_window = median_window
        self.batch_size = int(batch_size)

    @torch.no_grad()
    def clip_probabilities(self, wavs: torch.Tensor) -> torch.Tensor:
        """[B, C] pooled clip probabilities of equal-length clips [B, N]
        (a window-level classifier for :class:`ast_sb.inference.tagging.SlidingWindowTagger`)."""
        lengths = torch.ones(wavs.shape[0])
        return frame_forward(self.modules, wavs, lengths)[1]

    @torch.no_grad()
    def frame_scores(self, wav: torch.Tensor) -> np.ndarray:
        """[K, C] frame probabilities of one waveform [N] at the model rate.

        Example
        -------
        >>> enc = AudioSpectrogramTransformerEncoder(
        ...     "tiny224", n_mels=32, target_length=200, depth=1,
        ...     use_padding_mask=True)
        >>> modules = {
        ...     "compute_features": KaldiFbank(n_mels=32),
        ...     "mean_var_norm": AudioSpectrogramNormalizer(),
        ...     "embedding_model": enc,
        ...     "classifier": AudioSpectrogramTransformerFrameClassifier
        ...         .for_encoder(enc, 2, frame_hop=0.04),
        ... }
        >>> det = FrameLevelDetector(modules, ["a", "b"], window_seconds=1.0)
        >>> det.frame_scores(torch.randn(16000 * 3 + 800)).shape
        (77, 2)
        """
        return self.batch_frame_scores(wav.reshape(1, -1))[0]

    @torch.no_grad()
    def batch_frame_scores(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> List[np.ndarray]:
        """[K_i, C] frame probabilities of each clip of a padded batch.

        Every clip is cut into its own windows; the windows of all clips
        run together (``batch_size`` at a time, each at its real length),
        so a clip gets the frames it gets alone.

        Arguments
        ---------
        wavs : torch.Tensor
            Padded waveforms [B, N] at the model rate.
        lengths : torch.Tensor, optional
            Relative lengths [B] (SpeechBrain convention); None: all full.

        Returns
        -------
        list of numpy.ndarray
            Per clip, its frames only.
        """
        if wavs.dim() != 2:
            raise ValueError(
                f"Expected waveforms [B, N], got shape {tuple(wavs.shape)}."
            )
        wavs = wavs.float()
        if lengths is None:
            lengths = torch.ones(wavs.shape[0])
        samples = torch.round(lengths.double().cpu() * wavs.shape[-1]).long()
        step = int(round(self.window_seconds * self.sample_rate))
        windows, counts, owner = [], [], []
        for index, (wav, n) in enumerate(zip(wavs, samples.tolist())):
            wav = wav[: max(1, n)]
            n_windows = max(1, -(-len(wav) // step))
            padded = F.pad(wav, (0, n_windows * step - len(wav)))
            windows.append(padded.view(n_windows, step))
            counts.append(
                (len(wav) - torch.arange(n_windows) * step).clamp(1, step)
            )
            owner += [index] * n_windows
        windows_t = torch.cat(windows)
        counts_t = torch.cat(counts)
        pieces: List[torch.Tensor] = []
        for first in range(0, len(windows_t), self.batch_size):
            n = counts_t[first : first + self.batch_size]
            width = int(n.max())
            batch = windows_t[first : first + self.batch_size, :width]
            rel = (n.double() / width).float()
            logits, _, mask = frame_forward(self.modules, batch, rel)
            probs = torch.sigmoid(logits[:, : self.frames_per_window])
            keep = mask[:, : self.frames_per_window]
            pieces += [p[k] for p, k in zip(probs, keep)]
        return [
            torch.cat(
                [p for p, o in zip(pieces, owner) if o == index], dim=0
            ).numpy()
            for index in range(wavs.shape[0])
        ]

    def events(self, scores: np.ndarray) -> List[Event]:
        """Events of frame probabilities with the detector's post-processing."""
        return scores_to_frame_events(
            scores,
            self.labels,
            self.frame_hop,
            threshold=self.threshold,
            low_threshold=self.low_threshold,
            median_window=self.median_window,
        )

    def detect_file(self, path: str) -> Tuple[List[Event], np.ndarray]:
        """Events and frame probabilities of an audio file."""
        return self.detect(load_audio(path, self.sample_rate))

    def detect(self, wav: torch.Tensor) -> Tuple[List[Event], np.ndarray]:
        """Events and frame probabilities of a waveform at the model rate."""
        scores = self.frame_scores(wav)
        return self.events(scores), scores

    def detect_batch(
        self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> List[Tuple[List[Event], np.ndarray]]:
        """Events and frame probabilities of each clip of a padded batch
        (:meth:`batch_frame_scores`, then the detector's post-processing)."""
        return [
            (self.events(scores), scores)
            for scores in self.batch_frame_scores(wavs, lengths)
        ]

    def postprocessing(self) -> Dict[str, object]:
        """The settings that turn frame probabilities into events (JSON
        types): ``labels``, ``frame_hop``, ``threshold``, ``low_threshold``,
        ``median_window`` and the windowing (``sample_rate``,
        ``window_seconds``)."""
        return {
            "labels": list(self.labels),
            "frame_hop": self.frame_hop,
            "threshold": _plain(self.threshold),
            "low_threshold": _plain(self.low_threshold),
            "median_window": _plain(self.median_window),
            "sample_rate": self.sample_rate,
            "window_seconds": self.window_seconds,
        }


def save_detector(folder: str, detector: FrameLevelDetector) -> None:
    """Writes a detector folder (description JSON + safetensors weights).

    Example
    -------
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", n_mels=32, target_length=200, depth=1,
    ...     use_padding_mask=True)
    >>> modules = {
    ...     "compute_features": KaldiFbank(n_mels=32),
    ...     "mean_var_norm": AudioSpectrogramNormalizer(),
    ...     "embedding_model": enc,
    ...     "classifier": AudioSpectrogramTransformerFrameClassifier
    ...         .for_encoder(enc, 2, frame_hop=0.04),
    ... }
    >>> folder = str(getfixture("tmp_path") / "det")
    >>> save_detector(folder, FrameLevelDetector(modules, ["a", "b"]))
    >>> again = load_detector(folder)
    >>> wav = torch.randn(20000)
    >>> bool((again.frame_scores(wav) == FrameLevelDetector(
    ...     modules, ["a", "b"]).frame_scores(wav)).all())
    True
    """
    description = {"modules": {}, "labels": detector.labels}
    tensors = {}
    for slot, module in detector.modules.items():
        name = type(module).__name__
        if name not in _CLASSES or not hasattr(module, "constructor_args"):
            raise TypeError(
                f"{slot} is a {name}; a detector folder holds only "
                f"{sorted(_CLASSES)}."
            )
        description["modules"][slot] = {
            "class": name,
            "args": dict(module.constructor_args),
        }
        for key, value in module.state_dict().items():
            tensors[f"{slot}.{key}"] = value.detach().contiguous().cpu()
    description.update(
        sample_rate=detector.sample_rate,
        window_seconds=detector.window_seconds,
        threshold=_plain(detector.threshold),
        low_threshold=_plain(detector.low_threshold),
        median_window=_plain(detector.median_window),
    )
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, WEIGHTS))
    with open(os.path.join(folder, DESCRIPTION), "w", encoding="utf-8") as f:
        json.dump(description, f, indent=2)


def _plain(value):
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else value


def is_detector_folder(folder: str) -> bool:
    """Whether ``folder`` holds a detector's ``ast_sb_detector.json``."""
    return os.path.isfile(os.path.join(os.fspath(folder), DESCRIPTION))


def load_detector(folder: str, **overrides) -> FrameLevelDetector:
    """Reads a folder of :func:`save_detector` (``overrides`` replace its
    post-processing or window settings)."""
    path = os.path.join(folder, DESCRIPTION)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{folder} is not a frame-level detector folder (no {DESCRIPTION})."
        )
    with open(path, encoding="utf-8") as f:
        description = json.load(f)
    weights = load_file(os.path.join(folder, WEIGHTS))
    modules = {}
    for slot in _SLOTS:
        entry = description["modules"][slot]
        if entry["class"] not in _CLASSES:
            raise ValueError(
                f"{path}: {slot} has unknown class {entry['class']!r}."
            )
        module = _CLASSES[entry["class"]](**entry["args"])
        prefix = slot + "."
        state = {
            k[len(prefix) :]: v
            for k, v in weights.items()
            if k.startswith(prefix)
        }
        module.load_state_dict(state, strict=True)
        modules[slot] = module
    settings = {
        key: description[key]
        for key in (
            "sample_rate",
            "window_seconds",
            "threshold",
            "low_threshold",
            "median_window",
        )
    }
    settings.update(overrides)
    return FrameLevelDetector(modules, description["labels"], **settings)
