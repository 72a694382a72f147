"""Inference interface for exported Audio Spectrogram Transformer models.

:class:`AudioSpectrogramTransformerInterface` is a SpeechBrain
``EncoderClassifier`` that loads, offline, the folders written by
:func:`ast_sb.export.folder.export_inference_folder` (or ``ast-sb convert``)::

    from ast_sb.inference.interface import AudioSpectrogramTransformerInterface

    clf = AudioSpectrogramTransformerInterface.from_folder("model_dir")
    out_prob, score, index, text_lab = clf.classify_file("dog.wav")
    results = clf.classify_files(["a.wav", "b.flac"], top_k=3)
    emb = clf.encode_batch(wavs)  # [B, 1, D]

On top of the inherited ``encode_batch`` / ``classify_batch`` /
``classify_file`` it gives

* probabilities (:meth:`predict_proba`): softmax for single-label models,
  sigmoid for multi-label (AudioSet) models;
* top-k predictions with thresholds (:meth:`predict_batch`,
  :meth:`predict_file`);
* batch processing of many files with a progress bar
  (:meth:`classify_files`, :meth:`encode_files`): a file that cannot be read
  (missing, unreadable, empty, too short, NaN samples) gives an error entry
  and the other files are still processed;
* sliding-window tagging of long files (:meth:`tag_file`, see
  :mod:`ast_sb.inference.tagging`).

A clip inside a padded batch gives the same output as the clip alone, and a
clip longer than the model's grid is classified by the sliding windows of
the recipe's test: the folder's modules (:mod:`ast_sb.inference.pipeline`) do this,
so plain ``EncoderClassifier`` gives the same scores.

Authors
 * ast_sb developers 2026
"""

import contextlib
import logging
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from speechbrain.inference.classifiers import EncoderClassifier

from ast_sb.dataio.audio import AudioLoadError, load_audio
from ast_sb.dataio.validation import (
    check_relative_lengths,
    check_waveforms,
    nonfinite_rows,
)
from ast_sb.export.safe_folder import (
    DESCRIPTION_FILE,
    WEIGHTS_FILE,
    UntrustedModelError,
    check_special_files,
    has_description,
    load_described_modules,
)
from ast_sb.inference.pipeline import WaveformEncoder
from ast_sb.lobes.features import sample_counts
from ast_sb.lobes.model import set_token_budget

__all__ = [
    "AudioSpectrogramTransformerInterface",
    "load_interface",
]

logger = logging.getLogger(__name__)

#: Files ``from_folder`` needs in an exported folder.
REQUIRED_FILES = (
    "hyperparams.yaml",
    "embedding_model.ckpt",
    "classifier.ckpt",
    "label_encoder.ckpt",
)


@contextlib.contextmanager
def _naming_file(path: str) -> Iterator[None]:
    """Re-raises a ValueError of the model with the file's name in front."""
    try:
        yield
    except ValueError as err:
        raise ValueError(f"{os.fspath(path)}: {err}") from err


class AudioSpectrogramTransformerInterface(EncoderClassifier):
    """SpeechBrain inference interface for AST classifiers and taggers.

    Load it with :meth:`from_folder` (from the folder's declarative
    description, executing nothing) or, for folders you trust,
    ``from_folder(DIR, trust_yaml=True)`` / ``from_hparams(source=DIR,
    savedir=...)`` (both run the folder's ``hyperparams.yaml``).
    ``classify_batch`` / ``classify_file`` keep the ``EncoderClassifier``
    return values ``(out_prob, score, index, text_lab)`` where ``out_prob`` is
    the raw head output (log-probabilities for single-label models, logits
    for multi-label models); :meth:`predict_proba` returns probabilities.

    Arguments
    ---------
    See ``speechbrain.inference.interfaces.Pretrained``.

    Example
    -------
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from ast_sb.export.folder import export_inference_folder
    >>> from ast_sb.lobes.model import (
    ...     AudioSpectrogramTransformerClassifier,
    ...     AudioSpectrogramTransformerEncoder,
    ... )
    >>> enc = AudioSpectrogramTransformerEncoder(
    ...     "tiny224", depth=1, target_length=128
    ... )
    >>> head = AudioSpectrogramTransformerClassifier(enc.embed_dim, 3)
    >>> labels = CategoricalEncoder()
    >>> labels.update_from_iterable(["cat", "dog", "bird"])
    >>> folder = str(getfixture("tmpdir") / "model")
    >>> _ = export_inference_folder(
    ...     folder, enc, head, labels, {"target_length": 128}
    ... )
    >>> clf = AudioSpectrogramTransformerInterface.from_folder(folder)
    >>> wavs = torch.randn(2, 16000) * 0.1
    >>> clf.encode_batch(wavs).shape
    torch.Size([2, 1, 192])
    >>> out_prob, score, index, text_lab = clf.classify_batch(wavs)
    >>> out_prob.shape, len(text_lab)
    (torch.Size([2, 3]), 2)
    >>> preds = clf.predict_batch(wavs, top_k=2)
    >>> [len(p) for p in preds], sorted(preds[0][0])
    ([2, 2], ['index', 'label', 'score'])
    """

    HPARAMS_NEEDED = ["label_encoder"]
    MODULES_NEEDED = [
        "compute_features",
        "mean_var_norm",
        "embedding_model",
        "classifier",
    ]

    # ------------------------------------------------------------------
    # Loading
    # ------------------------------------------------------------------
    @classmethod
    def from_folder(
        cls,
        folder: str,
        savedir: Optional[str] = None,
        device: str = "cpu",
        check_weights: bool = True,
        trust_yaml: bool = False,
        token_budget: Optional[float] = None,
        token_budget_axes: Optional[str] = None,
        fast_path: Optional[str] = None,
        **kwargs: Any,
    ) -> "AudioSpectrogramTransformerInterface":
        """Loads an exported folder offline.

        By default the model is rebuilt from the folder's declarative
        description (``ast_sb_model.json`` + ``model.safetensors``, see
        :mod:`ast_sb.export.safe_folder`): nothing in the folder is executed or
        unpickled. A folder's ``hyperparams.yaml`` is code (hyperpyyaml
        imports and calls what it names), so it is read only with
        ``trust_yaml=True``, for folders you trust.

        Arguments
        ---------
        folder : str
            Folder written by ``export_inference_folder`` or
            ``ast-sb convert``.
        savedir : str, optional
            With ``trust_yaml``: where SpeechBrain links the files; default:
            the folder itself (nothing is written when all files are there).
            A savedir holding another model's files raises
            :class:`ast_sb.export.savedir.StaleSavedirError`.
        device : str
            Torch device, e.g. "cpu" or "cuda:0".
        check_weights : bool
            With ``trust_yaml``: check that every weight of the checkpoints
            was loaded (the SpeechBrain Pretrainer only warns on a
            mismatch). The safe path always loads strictly.
        trust_yaml : bool
            Load through ``hyperparams.yaml`` (runs the code it names; its
            ``.ckpt`` files are still loaded with ``weights_only=True``).
        token_budget : float, optional
            Fraction of patch tokens the encoder keeps, in (0, 1] (see
            :attr:`token_budget`); default: the folder's (1.0 unless it was
            exported with one).
        token_budget_axes : str, optional
            "both", "time" or "frequency" (see :attr:`token_budget_axes`);
            default: the folder's ("both" unless exported with another).
        fast_path : str, optional
            Encoder inference path, overriding the folder's (default
            "auto": the fastest path within 1e-4 of fp32 on this machine;
            "fp32", "onednn", "int8", "bf16"; see :attr:`fast_path`).
        **kwargs : dict
            With ``trust_yaml``: passed to ``from_hparams`` (e.g.
            ``overrides``).

        Returns
        -------
        AudioSpectrogramTransformerInterface or FrameLevelDetector
            The model, in eval mode. A frame-level detector folder
            (``ast_sb_detector.json``, recipes/SoundEventDetection) gives a
            :class:`ast_sb.inference.frame_detection.FrameLevelDetector`
            (``detect_file``, ``detect_batch``: events and frame
            probabilities, with the folder's post-processing); ``kwargs``
            then override its post-processing (``threshold``,
            ``low_threshold``, ``median_window``, ``window_seconds``,
            ``batch_size``).
        """
        folder = os.fspath(folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"Model folder not found: {folder}")
        from ast_sb.inference.frame_detection import (
            is_detector_folder,
            load_detector,
        )

        if is_detector_folder(folder):
            return _load_detector_folder(folder, device, load_detector, kwargs)
        if not trust_yaml:
            if kwargs:
                raise TypeError(
                    f"from_folder arguments {sorted(kwargs)} apply to the "
                    "YAML loader only: pass trust_yaml=True"
                )
            check_special_files(folder)  # not "missing": no trust_yaml
            if not has_description(folder):
                raise UntrustedModelError(
                    f"{folder} has no {DESCRIPTION_FILE} and {WEIGHTS_FILE}: "
                    "it can only be loaded through its hyperparams.yaml, "
                    "which executes code. If you trust this folder, pass "
                    "trust_yaml=True (ast-sb: --trust-yaml); or re-export it "
                    "with ast_sb.export.folder.export_inference_folder."
                )
            modules, hparams = load_described_modules(folder)
            model = cls(
                modules=modules, hparams=hparams, run_opts={"device": device}
            )
            model.folder = folder
            model._set_budget(token_budget, token_budget_axes)
            if fast_path is not None:
                model.fast_path = fast_path
            return model
        missing = [
            name
            for name in REQUIRED_FILES
            if not os.path.exists(os.path.join(folder, name))
        ]
        if missing:
            raise FileNotFoundError(
                f"{folder} is not an ast_sb inference folder: missing "
                f"{', '.join(missing)}. Create one with `ast-sb convert` or "
                "ast_sb.export.folder.export_inference_folder()."
            )
        from ast_sb.export.savedir import check_savedir

        check_savedir(folder, savedir)
        model = cls.from_hparams(
            source=os.path.abspath(folder),
            savedir=os.path.abspath(savedir or folder),
            run_opts={"device": device},
            **kwargs,
        )
        if check_weights:
            from ast_sb.export.folder import verify_loaded_weights

            verify_loaded_weights(model.mods, folder)
        model.folder = folder
        model._set_budget(token_budget, token_budget_axes)
        if fast_path is not None:
            model.fast_path = fast_path
        return model

    # ------------------------------------------------------------------
    # Model description
    # ------------------------------------------------------------------
    @property
    def pipeline(self) -> WaveformEncoder:
        """The folder's ``embedding_model`` (:class:`WaveformEncoder`)."""
        module = self.mods.embedding_model
        if not isinstance(module, WaveformEncoder):
            raise TypeError(
                f"{getattr(self, 'folder', 'This folder')} was exported "
                "before ast_sb.inference.pipeline (its embedding_model is "
                f"{type(module).__name__}); export it again."
            )
        if getattr(module, "_probe_scorer", None) is None:
            module.set_probe_scorer(self.head)
        return module

    @property
    def token_budget(self) -> float:
        """Fraction of patch tokens the encoder keeps at inference, in
        (0, 1] (:mod:`ast_sb.lobes.token_budget`): fewer tokens, less compute.
        Settable, e.g. ``clf.token_budget = 0.5``; 1.0 is the full model."""
        return float(getattr(self.encoder, "token_budget", 1.0))

    @token_budget.setter
    def token_budget(self, value: float) -> None:
        set_token_budget(self.mods.embedding_model, value)

    @property
    def token_budget_axes(self) -> str:
        """Where the token budget drops patches: "both" (frequency rows and
        time columns), "time" (columns) or "frequency" (rows). Settable."""
        return str(getattr(self.encoder, "token_budget_axes", "both"))

    @token_budget_axes.setter
    def token_budget_axes(self, value: str) -> None:
        set_token_budget(self.mods.embedding_model, self.token_budget, value)

    def _set_budget(self, budget: Optional[float], axes: Optional[str]) -> None:
        """Sets the budget and / or its axes where given."""
        if budget is not None or axes is not None:
            set_token_budget(
                self.mods.embedding_model,
                self.token_budget if budget is None else budget,
                axes,
            )

    @property
    def fast_path(self) -> str:
        """Inference path of the encoder (:mod:`ast_sb.inference.fast`).

        "auto" (default) runs, per input shape, bf16 weights where the CPU
        has native bf16 and a first-use probe finds them close to fp32
        with the same top-1 class, else the fastest path within 1e-4 of
        fp32 (never int8 or OpenVINO); "fp32", "onednn", "int8" (the
        encoder's blocks in int8 through onnxruntime, each clip run
        alone), "bf16" and "openvino" force one. Set it to change the
        path.
        """
        return self.pipeline.fast_path

    @fast_path.setter
    def fast_path(self, path: str) -> None:
        self.pipeline.fast_path = path

    @property
    def features(self) -> torch.nn.Module:
        """The trained front end (e.g. ``KaldiFbank``)."""
        return self.pipeline.compute_features

    @property
    def normalizer(self) -> torch.nn.Module:
        """The trained feature normaliser."""
        return self.pipeline.mean_var_norm

    @property
    def encoder(self) -> torch.nn.Module:
        """The trained encoder (e.g. the AST encoder)."""
        return self.pipeline.encoder

    @property
    def head(self) -> torch.nn.Module:
        """The trained classification head."""
        classifier = self.mods.classifier
        return getattr(classifier, "head", classifier)

    @property
    def sample_rate(self) -> int:
        """Sampling rate the model expects (Hz)."""
        rate = getattr(self.hparams, "sample_rate", None)
        if rate is None:
            rate = self.pipeline.sample_rate
        return int(rate)

    @property
    def multi_label(self) -> bool:
        """True for multi-label (sigmoid) models such as AudioSet taggers."""
        flag = getattr(self.hparams, "multi_label", None)
        if flag is None:
            flag = getattr(self.head, "output", "") == "logits"
        return bool(flag)

    @property
    def labels(self) -> List[str]:
        """Class names by output index."""
        encoder = self.hparams.label_encoder
        return [str(encoder.ind2lab[i]) for i in range(len(encoder))]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.hparams.label_encoder)

    @property
    def max_frames(self) -> int:
        """Frames of the model's time grid (one window)."""
        limits = [
            getattr(self.features, "target_length", None),
            getattr(self.encoder, "target_length", None),
        ]
        limits = [int(x) for x in limits if x]
        return min(limits) if limits else 1024

    def _frame_geometry(self) -> Tuple[int, int]:
        feats = self.features
        length = int(getattr(feats, "frame_length", 400))
        shift = int(getattr(feats, "frame_shift", 160))
        return length, shift

    @property
    def max_samples(self) -> int:
        """Longest clip (samples) whose frames all fit one grid; longer
        clips are classified by sliding windows."""
        length, shift = self._frame_geometry()
        return length + (self.max_frames - 1) * shift

    @property
    def min_samples(self) -> int:
        """Shortest clip (samples) the model can classify (the rule of
        :attr:`ast_sb.inference.pipeline.WaveformEncoder.min_samples`)."""
        return self.pipeline.min_samples

    @property
    def max_duration(self) -> float:
        """Duration of the grid in seconds (``max_samples / sample_rate``)."""
        return self.max_samples / self.sample_rate

    @property
    def window_settings(self) -> Dict[str, Optional[float]]:
        """Sliding windows of long clips: ``window`` / ``hop`` in seconds
        (the recipe's ``eval_window_seconds`` / ``eval_hop_seconds``; None
        when the model has no grid)."""
        pipeline = self.pipeline
        rate = pipeline.sample_rate
        return {
            "window": None
            if pipeline.window is None
            else pipeline.window / rate,
            "hop": None if pipeline.hop is None else pipeline.hop / rate,
            "eval_window_seconds": pipeline.window_seconds,
            "eval_hop_seconds": pipeline.hop_seconds,
        }

    # ------------------------------------------------------------------
    # Features and embeddings
    # ------------------------------------------------------------------
    def _check_length(self, n_samples: int, name: str = "clip") -> None:
        if n_samples < self.min_samples:
            raise AudioLoadError(
                f"Audio too short: {name} has {n_samples} samples "
                f"({n_samples / self.sample_rate:.3f} s); the model needs at "
                f"least {self.min_samples} samples "
                f"({self.min_samples / self.sample_rate:.3f} s at "
                f"{self.sample_rate} Hz)."
            )

    def _check_batch(
        self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        wavs = check_waveforms(wavs).to(self.device).float()
        wav_lens = check_relative_lengths(wav_lens, wavs.shape[0], "wav_lens")
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        wav_lens = wav_lens.to(self.device)
        sizes = sample_counts(wav_lens, wavs.shape[1]).tolist()
        for i, size in enumerate(sizes):
            self._check_length(size, f"batch item {i}")
        return wavs, wav_lens

    def compute_features(
        self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised features of a padded batch of clips within the grid.

        Each clip's frames past its own end are padding (0 before
        normalisation), so a clip gets the same features in any batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` (or ``[N]``) at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        feats : torch.Tensor
            ``[B, T, F]`` normalised features.
        frame_lens : torch.Tensor
            Relative numbers of valid frames ``[B]``.
        """
        wavs, wav_lens = self._check_batch(wavs, wav_lens)
        with torch.no_grad():
            feats = self.features(wavs, wav_lens)
            convert = getattr(self.features, "relative_frame_lengths", None)
            lens = (
                wav_lens
                if convert is None
                else convert(wav_lens, wavs.shape[1])
            )
            feats = self.normalizer(feats, lens)
        return feats, lens

    def encode_batch(
        self,
        wavs: torch.Tensor,
        wav_lens: Optional[torch.Tensor] = None,
        normalize: bool = False,
    ) -> torch.Tensor:
        """Embeddings ``[B, 1, D]`` of a batch of waveforms.

        ``EncoderClassifier.encode_batch`` on the folder's modules
        (:mod:`ast_sb.inference.pipeline`) after checking the clip lengths: each clip
        gets the embedding it gets alone (the mean over its windows when it
        is longer than the grid).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` (or ``[N]``) at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        normalize : bool
            Apply ``hparams.mean_var_norm_emb`` (SpeechBrain option).

        Returns
        -------
        torch.Tensor
            Embeddings ``[B, 1, D]``.
        """
        wavs, wav_lens = self._check_batch(wavs, wav_lens)
        with torch.no_grad():
            return super().encode_batch(wavs, wav_lens, normalize)

    # ------------------------------------------------------------------
    # Classification
    # ------------------------------------------------------------------
    def classify_batch(
        self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
    ):
        """Classifies a batch (``EncoderClassifier`` return values).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        out_prob : torch.Tensor
            Raw head outputs ``[B, C]`` (log-probabilities or logits; the
            mean over sliding windows for clips longer than the grid).
        score : torch.Tensor
            Best output per clip ``[B]``.
        index : torch.Tensor
            Best class per clip ``[B]``.
        text_lab : list of str
            Best label per clip.
        """
        with torch.no_grad():
            out_prob, score, index, text_lab = super().classify_batch(
                wavs, wav_lens
            )
        bad = nonfinite_rows(out_prob)
        if bad:
            raise ValueError(
                f"The model gives NaN or inf scores for batch items {bad}; "
                "they are not reported (check the audio and the model)."
            )
        return out_prob, score, index, text_lab

    def scores_to_proba(self, out_prob: torch.Tensor) -> torch.Tensor:
        """Turns head outputs into probabilities (sigmoid or softmax).

        Arguments
        ---------
        out_prob : torch.Tensor
            Head outputs ``[B, C]``.

        Returns
        -------
        torch.Tensor
            Probabilities ``[B, C]``.
        """
        if self.multi_label:
            return torch.sigmoid(out_prob)
        # idempotent on log-probabilities, normalises raw logits
        return torch.softmax(out_prob, dim=-1)

    def predict_proba(
        self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Class probabilities ``[B, C]`` of a batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.

        Returns
        -------
        torch.Tensor
            Sigmoid (multi-label) or softmax (single-label) probabilities.
        """
        out_prob = self.classify_batch(wavs, wav_lens)[0]
        return self.scores_to_proba(out_prob.float())

    def top_predictions(
        self,
        proba: torch.Tensor,
        top_k: Optional[int] = None,
        threshold: Optional[float] = None,
    ) -> List[List[Dict[str, Any]]]:
        """Top-k classes with score >= threshold for each row of ``proba``.

        Arguments
        ---------
        proba : torch.Tensor
            Probabilities ``[B, C]``.
        top_k : int, optional
            Number of classes per clip (default 1 for single-label and 5
            for multi-label models; ``0`` or a negative value means all).
        threshold : float, optional
            Minimum probability (default: none).

        Returns
        -------
        list of list of dict
            Per clip, ``{"label", "index", "score"}`` sorted by score.
        """
        if top_k is None:
            top_k = 5 if self.multi_label else 1
        n_classes = proba.shape[-1]
        k = n_classes if top_k <= 0 else min(top_k, n_classes)
        values, indices = proba.float().cpu().topk(k, dim=-1)
        labels = self.labels
        results = []
        for row_values, row_indices in zip(values.tolist(), indices.tolist()):
            results.append(
                [
                    {"label": labels[i], "index": int(i), "score": float(v)}
                    for v, i in zip(row_values, row_indices)
                    if threshold is None or v >= threshold
                ]
            )
        return results

    def predict_batch(
        self,
        wavs: torch.Tensor,
        wav_lens: Optional[torch.Tensor] = None,
        top_k: Optional[int] = None,
        threshold: Optional[float] = None,
    ) -> List[List[Dict[str, Any]]]:
        """Top-k predictions (with probabilities) of a batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[B, N]`` at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[B]``.
        top_k : int, optional
            See :meth:`top_predictions`.
        threshold : float, optional
            Minimum probability.

        Returns
        -------
        list of list of dict
            Per clip, ``{"label", "index", "score"}`` sorted by score.
        """
        proba = self.predict_proba(wavs, wav_lens)
        return self.top_predictions(proba, top_k, threshold)

    def load_audio(self, path: str, **kwargs: Any) -> torch.Tensor:
        """Loads a local file for the model (mono, resampled, checked).

        The whole file is read: clips longer than :attr:`max_duration` are
        classified by sliding windows.

        Arguments
        ---------
        path : str
            Audio file.
        **kwargs : dict
            Ignored (``Pretrained.load_audio`` compatibility).

        Returns
        -------
        torch.Tensor
            Waveform ``[N]``.
        """
        path = os.fspath(path)
        wav = load_audio(path, self.sample_rate)
        self._check_length(wav.shape[0], path)
        return wav

    def classify_file(self, path: str, **kwargs: Any):
        """Classifies a local audio file.

        Arguments
        ---------
        path : str
            Audio file (any format soundfile reads; resampled and downmixed).
        **kwargs : dict
            Ignored (``EncoderClassifier`` compatibility).

        Returns
        -------
        out_prob, score, index, text_lab
            As :meth:`classify_batch`, for a batch of one.
        """
        wav = self.load_audio(path)
        with _naming_file(path):
            return self.classify_batch(wav.unsqueeze(0))

    def predict_file(
        self,
        path: str,
        top_k: Optional[int] = None,
        threshold: Optional[float] = None,
    ) -> List[Dict[str, Any]]:
        """Top-k predictions of one file.

        Arguments
        ---------
        path : str
            Audio file.
        top_k : int, optional
            See :meth:`top_predictions`.
        threshold : float, optional
            Minimum probability.

        Returns
        -------
        list of dict
            ``{"label", "index", "score"}`` sorted by score.
        """
        wav = self.load_audio(path)
        with _naming_file(path):
            preds = self.predict_batch(wav.unsqueeze(0), None, top_k, threshold)
        return preds[0]

    # ------------------------------------------------------------------
    # Many files
    # ------------------------------------------------------------------
    def _iter_file_batches(
        self, paths: Sequence[str], batch_size: int, progress: bool
    ) -> Iterator[Tuple[List[Tuple[int, torch.Tensor]], List[Tuple]]]:
        """Yields (loaded [(i, wav)], failed [(i, error)]) per batch."""
        from tqdm import tqdm

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        bar = tqdm(
            total=len(paths), disable=not progress, unit="file", leave=False
        )
        try:
            for first in range(0, len(paths), batch_size):
                loaded, failed = [], []
                for i in range(first, min(first + batch_size, len(paths))):
                    try:
                        loaded.append((i, self.load_audio(paths[i])))
                    except (AudioLoadError, ValueError, OSError) as err:
                        failed.append((i, f"{type(err).__name__}: {err}"))
                yield loaded, failed
                bar.update(len(loaded) + len(failed))
        finally:
            bar.close()

    def _run_loaded(
        self, loaded: List[Tuple[int, torch.Tensor]], fn
    ) -> Dict[int, Any]:
        """Runs ``fn(wavs, lens)`` on padded groups; returns per-index rows."""
        out: Dict[int, Any] = {}
        if not loaded:
            return out
        n_max = max(w.shape[0] for _, w in loaded)
        wavs = torch.zeros(len(loaded), n_max)
        for row, (_, wav) in enumerate(loaded):
            wavs[row, : wav.shape[0]] = wav
        lens = torch.tensor([w.shape[0] / n_max for _, w in loaded])
        result = fn(wavs, lens)
        for row, (i, _) in enumerate(loaded):
            out[i] = result[row]
        return out

    def _run_checked(
        self,
        loaded: List[Tuple[int, torch.Tensor]],
        fn,
        paths: Sequence[str],
    ) -> Tuple[Dict[int, Any], Dict[int, str]]:
        """:meth:`_run_loaded`, with failures reported per file.

        When the batch fails (e.g. one file's samples overflow the
        features), its files are run one by one, so only the bad file gets
        an error (which names it) and the others their results.
        """
        try:
            return self._run_loaded(loaded, fn), {}
        except (ValueError, RuntimeError) as err:
            if len(loaded) == 1:
                i = loaded[0][0]
                return {}, {i: f"{type(err).__name__}: {paths[i]}: {err}"}
        rows: Dict[int, Any] = {}
        errors: Dict[int, str] = {}
        for item in loaded:
            part, failed = self._run_checked([item], fn, paths)
            rows.update(part)
            errors.update(failed)
        return rows, errors

    def classify_files(
        self,
        paths: Sequence[str],
        batch_size: int = 8,
        top_k: Optional[int] = None,
        threshold: Optional[float] = None,
        progress: bool = True,
    ) -> List[Dict[str, Any]]:
        """Classifies many files in batches, with a progress bar.

        A file that fails (missing, unreadable, empty, too short, NaN
        samples) gets ``"status": "error"`` and a message; the other files
        are still classified.

        Arguments
        ---------
        paths : list of str
            Audio files.
        batch_size : int
            Files per forward pass.
        top_k : int, optional
            See :meth:`top_predictions`.
        threshold : float, optional
            Minimum probability of a reported class.
        progress : bool
            Show a tqdm progress bar (stderr).

        Returns
        -------
        list of dict
            One entry per path, in order: ``file``, ``status`` ("ok" or
            "error"), ``error`` (message or None), ``duration`` (seconds
            seen by the model, or None) and ``predictions`` (list of
            ``{"label", "index", "score"}``).
        """
        results: List[Dict[str, Any]] = [
            {
                "file": os.fspath(p),
                "status": "error",
                "error": None,
                "duration": None,
                "predictions": [],
            }
            for p in paths
        ]
        results_paths = [os.fspath(p) for p in paths]
        for loaded, failed in self._iter_file_batches(
            results_paths, batch_size, progress
        ):
            for i, message in failed:
                results[i]["error"] = message
            probas, errors = self._run_checked(
                loaded, self.predict_proba, results_paths
            )
            for i, message in errors.items():
                results[i]["error"] = message
            for i, wav in loaded:
                if i in errors:
                    continue
                results[i].update(
                    status="ok",
                    duration=wav.shape[0] / self.sample_rate,
                    predictions=self.top_predictions(
                        probas[i][None], top_k, threshold
                    )[0],
                )
        return results

    def encode_files(
        self,
        paths: Sequence[str],
        batch_size: int = 8,
        progress: bool = True,
    ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
        """Embeddings of many files, with a progress bar.

        Arguments
        ---------
        paths : list of str
            Audio files.
        batch_size : int
            Files per forward pass.
        progress : bool
            Show a tqdm progress bar (stderr).

        Returns
        -------
        embeddings : dict
            File -> embedding ``[D]`` (CPU) for the files that worked.
        errors : dict
            File -> error message for the files that failed.
        """
        paths = [os.fspath(p) for p in paths]
        embeddings: Dict[str, torch.Tensor] = {}
        errors: Dict[str, str] = {}
        for loaded, failed in self._iter_file_batches(
            paths, batch_size, progress
        ):
            for i, message in failed:
                errors[paths[i]] = message
            rows, failed_runs = self._run_checked(
                loaded, self._finite_embeddings, paths
            )
            for i, message in failed_runs.items():
                errors[paths[i]] = message
            for i, emb in rows.items():
                embeddings[paths[i]] = emb.detach().cpu()
        return embeddings, errors

    def _finite_embeddings(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor
    ) -> torch.Tensor:
        """``encode_batch(...).squeeze(1)``, refusing NaN / inf rows."""
        emb = self.encode_batch(wavs, wav_lens).squeeze(1)
        bad = nonfinite_rows(emb)
        if bad:
            raise ValueError(
                f"The model gives NaN or inf embeddings for batch items {bad}"
            )
        return emb

    def tag_file(self, path: str, **kwargs: Any):
        """Sliding-window tagging of a (long) file.

        Arguments
        ---------
        path : str
            Audio file of any length (read in chunks).
        **kwargs : dict
            Options of :class:`ast_sb.inference.tagging.SlidingWindowTagger` and
            ``progress``.

        Returns
        -------
        ast_sb.inference.tagging.TaggingResult
            Window scores and the timeline of events.
        """
        from ast_sb.inference.tagging import SlidingWindowTagger

        progress = kwargs.pop("progress", False)
        return SlidingWindowTagger(self, **kwargs).tag_file(
            path, progress=progress
        )


def _load_detector_folder(folder, device, load_detector, overrides):
    """A detector folder through ``from_folder`` (CPU: the detector returns
    NumPy frame probabilities)."""
    if str(device) != "cpu":
        raise ValueError(
            f"{folder} is a frame-level detector folder, which runs on the "
            f"CPU only; got device={device!r}."
        )
    allowed = {
        "threshold",
        "low_threshold",
        "median_window",
        "window_seconds",
        "batch_size",
    }
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(
            f"from_folder arguments {unknown} do not apply to the "
            f"frame-level detector folder {folder} (it takes "
            f"{sorted(allowed)})."
        )
    return load_detector(folder, **overrides)


def load_interface(
    folder: str,
    device: str = "cpu",
    savedir: Optional[str] = None,
    trust_yaml: bool = False,
    token_budget: Optional[float] = None,
    token_budget_axes: Optional[str] = None,
    fast_path: Optional[str] = None,
) -> AudioSpectrogramTransformerInterface:
    """Shortcut for :meth:`AudioSpectrogramTransformerInterface.from_folder`.

    Arguments
    ---------
    folder : str
        Exported model folder.
    device : str
        Torch device.
    savedir : str, optional
        SpeechBrain savedir (default: the folder).
    trust_yaml : bool
        Load through the folder's ``hyperparams.yaml`` (runs its code).
    token_budget : float, optional
        Fraction of patch tokens kept at inference, in (0, 1].
    token_budget_axes : str, optional
        "both", "time" or "frequency".
    fast_path : str, optional
        Encoder inference path (default: the folder's, "auto").

    Returns
    -------
    AudioSpectrogramTransformerInterface
        The loaded model.
    """
    return AudioSpectrogramTransformerInterface.from_folder(
        folder,
        savedir=savedir,
        device=device,
        trust_yaml=trust_yaml,
        token_budget=token_budget,
        token_budget_axes=token_budget_axes,
        fast_path=fast_path,
    )
