"""Sliding-window tagging of long audio files with an AST model.

A file of any length is read in blocks (``soundfile.SoundFile.read``), never
as a whole: only the current window and the next block are in memory, and
features are computed for one batch of windows at a time. Each window is
classified like a clip of that length (resampled and featurised on its own),
and windows of equal length are run in batches.

The timeline is built on a grid of ``hop``-long segments: the score of a
segment is the mean score of the windows that contain its midpoint, a class
is active in a segment when its score reaches ``threshold`` (multi-label) or
when it is the segment's best class (single-label), and consecutive active
segments of a class are merged into an event ``(start, end, label, score)``
whose score is the mean segment score (:mod:`ast_sb.inference.timeline`,
shared with streaming and re-exported here).

Example::

    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface
    from ast_sb.inference.tagging import SlidingWindowTagger

    model = AudioSpectrogramTransformerInterface.from_folder("model_dir")
    result = SlidingWindowTagger(model, window=10.0, hop=5.0).tag_file("1h.wav")
    for event in result.events:
        print(event.start, event.end, event.label, event.score)

Authors
 * ast_sb developers 2026
"""

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from ast_sb.dataio.audio import AudioLoadError, open_audio_file
from ast_sb.dataio.validation import nonfinite_rows
from ast_sb.inference.timeline import (
    EventTracker,
    TagEvent,
    cover_sums,
    event_order,
    scores_to_events,
    segment_activity,
    segment_scores,
)
from ast_sb.inference.windows import window_bounds

__all__ = [
    "SlidingWindowTagger",
    "TagEvent",
    "EventTracker",
    "TaggingResult",
    "cover_sums",
    "event_order",
    "iter_windows",
    "scores_to_events",
    "segment_activity",
    "segment_scores",
]

#: Samples read from disk per ``SoundFile.read`` call.
BLOCK_FRAMES = 1 << 16


@dataclass
class TaggingResult:
    """Window scores and event timeline of a tagged file.

    Arguments
    ---------
    file : str
        The tagged file.
    duration : float
        File duration in seconds.
    window : float
        Window length in seconds.
    hop : float
        Hop between windows in seconds.
    labels : list of str
        Class names by index.
    multi_label : bool
        Whether scores are independent sigmoids.
    window_starts : numpy.ndarray
        ``[W]`` window start times (s).
    window_ends : numpy.ndarray
        ``[W]`` window end times (s).
    scores : numpy.ndarray
        ``[W, C]`` window probabilities.
    events : list of TagEvent
        The timeline, sorted by start time.
    """

    file: str
    duration: float
    window: float
    hop: float
    labels: List[str]
    multi_label: bool
    window_starts: np.ndarray
    window_ends: np.ndarray
    scores: np.ndarray
    events: List[TagEvent] = field(default_factory=list)

    def to_dict(self, windows: bool = False, top_k: int = 3) -> Dict[str, Any]:
        """JSON-friendly summary.

        Arguments
        ---------
        windows : bool
            Also list every window with its ``top_k`` classes.
        top_k : int
            Classes listed per window.

        Returns
        -------
        dict
            ``file``, ``duration``, ``window``, ``hop``, ``multi_label``,
            ``events`` (and ``windows``).
        """
        out = {
            "file": self.file,
            "duration": round(self.duration, 4),
            "window": self.window,
            "hop": self.hop,
            "multi_label": self.multi_label,
            "n_windows": int(len(self.window_starts)),
            "events": [e.to_dict() for e in self.events],
        }
        if windows:
            rows = []
            k = min(top_k, self.scores.shape[1]) if len(self.scores) else 0
            for start, end, row in zip(
                self.window_starts, self.window_ends, self.scores
            ):
                best = np.argsort(-row)[:k]
                rows.append(
                    {
                        "start": round(float(start), 4),
                        "end": round(float(end), 4),
                        "top": [
                            {
                                "label": self.labels[i],
                                "score": round(float(row[i]), 4),
                            }
                            for i in best
                        ],
                    }
                )
            out["windows"] = rows
        return out

    def events_as_dicts(self) -> List[Dict[str, Any]]:
        """Events as plain dicts (unrounded)."""
        return [asdict(e) for e in self.events]


def iter_windows(
    path: str,
    window: float,
    hop: float,
    sample_rate: Optional[int] = None,
    min_samples: int = 1,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[Tuple[float, float, torch.Tensor]]:
    """Yields the sliding windows of a file, reading it block by block.

    Windows start at ``0, hop, 2 hop, ...``; the last one ends at the end of
    the file and may be shorter than ``window`` (a tail shorter than
    ``min_samples`` is dropped unless it is the whole file, which then
    raises). Channels are averaged; each window is resampled on its own.

    Arguments
    ---------
    path : str
        Audio file.
    window : float
        Window length in seconds.
    hop : float
        Hop in seconds (``0 < hop <= window``).
    sample_rate : int, optional
        Rate of the yielded waveforms (default: the file's).
    min_samples : int
        Shortest useful window, in samples at ``sample_rate``.
    block_frames : int
        Samples read per ``SoundFile.read`` call.

    Yields
    ------
    start : float
        Window start (s).
    end : float
        Window end (s).
    wav : torch.Tensor
        Mono waveform ``[N]`` float32.

    Example
    -------
    >>> from ast_sb.dataio.audio import save_audio
    >>> path = str(getfixture("tmpdir") / "five.wav")
    >>> save_audio(path, torch.zeros(5 * 8000), 8000)
    >>> [(s, e, w.shape[0]) for s, e, w in iter_windows(path, 2.0, 1.5, 16000)]
    [(0.0, 2.0, 32000), (1.5, 3.5, 32000), (3.0, 5.0, 32000)]
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be > 0, got {window}, {hop}")
    if hop > window:
        raise ValueError(
            f"hop ({hop} s) must not exceed window ({window} s): audio "
            "between windows would never be tagged."
        )
    with open_audio_file(path) as fin:
        rate = fin.samplerate
        total = fin.frames
        out_rate = int(sample_rate or rate)
        if total <= 0:
            raise AudioLoadError(f"Audio file contains no samples: {path}")
        win = max(1, int(round(window * rate)))
        step = max(1, int(round(hop * rate)))
        buffer = np.zeros(0, dtype=np.float32)
        buf_start = 0  # file sample index of buffer[0]
        for start, end in window_bounds(total, win, step):
            end = min(end, total)
            while buf_start + len(buffer) < end:
                want = min(block_frames, end - buf_start - len(buffer))
                block = fin.read(want, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    total = buf_start + len(buffer)  # header lied
                    end = min(end, total)
                    break
                mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                if not np.isfinite(mono).all():
                    bad = (
                        buf_start
                        + len(buffer)
                        + int(np.argmax(~np.isfinite(mono)))
                    )
                    raise AudioLoadError(
                        f"Audio file contains NaN or inf samples: {path} "
                        f"(first at {bad / rate:.3f} s)"
                    )
                buffer = np.concatenate([buffer, mono.astype(np.float32)])
            if end <= start:
                break
            drop = start - buf_start
            buffer = buffer[drop:]
            buf_start = start
            wav = torch.from_numpy(buffer[: end - start].copy())
            if out_rate != rate:
                import torchaudio

                wav = torchaudio.functional.resample(wav, rate, out_rate)
            if wav.shape[0] >= min_samples:
                yield start / rate, end / rate, wav
            elif start == 0:
                raise AudioLoadError(
                    f"Audio too short: {path} lasts {total / rate:.3f} s; "
                    f"the model needs at least {min_samples / out_rate:.3f} s."
                )
            if end >= total:
                break


class SlidingWindowTagger:
    """Tags long files with an AST model over sliding windows.

    Arguments
    ---------
    model : AudioSpectrogramTransformerInterface or callable
        The loaded interface, or any ``fn(wavs [B, N]) -> probs [B, C]``
        (then ``labels``, ``sample_rate`` and ``window`` are required).
    window : float, optional
        Window length in seconds (default: the longest clip the model takes,
        at most 10 s).
    hop : float, optional
        Hop in seconds (default: half the window).
    batch_size : int
        Windows per forward pass.
    threshold : float, optional
        Event threshold (default 0.5 multi-label, 0 single-label).
    top_k : int, optional
        At most this many simultaneous events per time segment.
    merge_gap : float
        Merge events of a class separated by at most this gap (s).
    min_duration : float
        Drop shorter events (s).
    labels : list of str, optional
        Class names (default: the model's).
    multi_label : bool, optional
        Default: the model's.
    sample_rate : int, optional
        Default: the model's.

    Example
    -------
    >>> from ast_sb.dataio.audio import save_audio
    >>> path = str(getfixture("tmpdir") / "beep.wav")
    >>> wav = torch.zeros(6 * 16000)
    >>> wav[2 * 16000 : 4 * 16000] = 0.5
    >>> save_audio(path, wav, 16000)
    >>> def loudness(wavs):  # toy "model": P(loud) per window
    ...     p = (wavs.abs() > 0.1).float().mean(dim=1, keepdim=True)
    ...     return torch.cat([p, 1 - p], dim=1)
    >>> tagger = SlidingWindowTagger(
    ...     loudness, window=1.0, hop=0.5, labels=["loud", "quiet"],
    ...     multi_label=False, sample_rate=16000,
    ... )
    >>> [(e.start, e.end, e.label) for e in tagger.tag_file(path).events]
    [(0.0, 2.0, 'quiet'), (2.0, 4.0, 'loud'), (4.0, 6.0, 'quiet')]
    """

    def __init__(
        self,
        model: Any,
        window: Optional[float] = None,
        hop: Optional[float] = None,
        batch_size: int = 8,
        threshold: Optional[float] = None,
        top_k: Optional[int] = None,
        merge_gap: float = 0.0,
        min_duration: float = 0.0,
        labels: Optional[List[str]] = None,
        multi_label: Optional[bool] = None,
        sample_rate: Optional[int] = None,
    ):
        is_interface = hasattr(model, "predict_proba")
        if is_interface:
            self.score_fn: Callable = model.predict_proba
            labels = labels or model.labels
            multi_label = (
                model.multi_label if multi_label is None else multi_label
            )
            sample_rate = sample_rate or model.sample_rate
            self.min_samples = model.min_samples
            max_window = model.max_duration
            if window is None:
                window = min(10.0, math.floor(max_window * 100) / 100)
            elif window > max_window + 1e-6:
                raise ValueError(
                    f"window={window} s is longer than the {max_window:.2f} s "
                    "the model takes; use a shorter window."
                )
        else:
            if not callable(model):
                raise TypeError(
                    "model must be an AudioSpectrogramTransformerInterface "
                    "or a callable wavs -> probabilities."
                )
            if labels is None or sample_rate is None or window is None:
                raise ValueError(
                    "labels, sample_rate and window are required with a "
                    "callable model."
                )
            self.score_fn = model
            self.min_samples = 1
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.window = float(window)
        self.hop = float(hop if hop is not None else self.window / 2)
        if not 0 < self.hop <= self.window:
            raise ValueError(
                f"hop must be in (0, window={self.window}], got {self.hop}"
            )
        self.batch_size = batch_size
        self.threshold = threshold
        self.top_k = top_k
        self.merge_gap = merge_gap
        self.min_duration = min_duration
        self.labels = list(labels)
        self.multi_label = bool(multi_label)
        self.sample_rate = int(sample_rate)

    def _score(self, wavs: List[torch.Tensor]) -> np.ndarray:
        with torch.no_grad():
            probs = self.score_fn(torch.stack(wavs))
        bad = nonfinite_rows(probs)
        if bad:
            raise ValueError(
                f"the model gives NaN or inf scores for windows {bad} of the "
                "batch"
            )
        return probs.detach().float().cpu().numpy()

    def tag_file(self, path: str, progress: bool = False) -> TaggingResult:
        """Tags one file of any length.

        Arguments
        ---------
        path : str
            Audio file (read block by block).
        progress : bool
            Show a tqdm progress bar over the file's duration.

        Returns
        -------
        TaggingResult
            Window scores and events.
        """
        from tqdm import tqdm

        path = os.fspath(path)
        with open_audio_file(path) as fin:
            duration = fin.frames / fin.samplerate
        starts: List[float] = []
        ends: List[float] = []
        rows: List[np.ndarray] = []
        pending: List[torch.Tensor] = []
        bar = tqdm(
            total=round(duration, 2),
            disable=not progress,
            unit="s",
            leave=False,
        )

        def flush() -> None:
            if pending:
                first = starts[len(starts) - len(pending)]
                try:
                    rows.append(self._score(pending))
                except (ValueError, RuntimeError) as err:
                    raise ValueError(
                        f"{path}: windows from {first:.2f} s to "
                        f"{ends[-1]:.2f} s: {err}"
                    ) from err
                pending.clear()

        try:
            for start, end, wav in iter_windows(
                path,
                self.window,
                self.hop,
                self.sample_rate,
                self.min_samples,
            ):
                if pending and wav.shape[0] != pending[0].shape[0]:
                    flush()  # only windows of equal length share a batch
                pending.append(wav)
                starts.append(start)
                ends.append(end)
                if len(pending) == self.batch_size:
                    flush()
                bar.update(round(min(self.hop, end - start), 2))
            flush()
        finally:
            bar.close()
        n_classes = len(self.labels)
        scores = (
            np.concatenate(rows) if rows else np.zeros((0, n_classes))
        ).astype(np.float32)
        if scores.shape[1] != n_classes:
            raise ValueError(
                f"The model gives {scores.shape[1]} scores but there are "
                f"{n_classes} labels."
            )
        result = TaggingResult(
            file=path,
            duration=duration,
            window=self.window,
            hop=self.hop,
            labels=self.labels,
            multi_label=self.multi_label,
            window_starts=np.asarray(starts),
            window_ends=np.asarray(ends),
            scores=scores,
        )
        result.events = scores_to_events(
            result.window_starts,
            result.window_ends,
            scores,
            self.labels,
            duration,
            self.hop,
            self.multi_label,
            self.threshold,
            self.top_k,
            self.merge_gap,
            self.min_duration,
        )
        return result
