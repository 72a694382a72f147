"""Plots for AST results: tagging timelines, confusion matrices, curves.

Every function writes a PNG with matplotlib's Agg canvas (no display, no
``pyplot`` global state) and returns the written path. matplotlib is
imported only when a plot is made, so the rest of ``ast_sb`` does not need
it.

* :func:`plot_tagging`: log-mel spectrogram of a (long) file, scores of the
  top classes and the event timeline of a
  :class:`~ast_sb.inference.tagging.TaggingResult`. The spectrogram is computed block
  by block and pooled in time, so 1 h files are fine.
* :func:`plot_confusion_matrix`, :func:`plot_per_class_bars`,
  :func:`plot_test_results`: single-label test results (e.g. after a
  recipe's test stage).
* :func:`parse_train_log`, :func:`plot_training_curves`: curves from a
  SpeechBrain ``train_log.txt``.
* :func:`plot_recipe_results`: all of the above for a recipe output folder.

Authors
 * ast_sb developers 2026
"""

import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import sklearn.metrics

__all__ = [
    "confusion_matrix",
    "parse_train_log",
    "plot_confusion_matrix",
    "plot_per_class_bars",
    "plot_recipe_results",
    "plot_tagging",
    "plot_test_results",
    "plot_training_curves",
]


def _figure(width: float, height: float):
    """A matplotlib Figure on an Agg canvas (lazy import)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "ast_sb.evaluation.plots needs matplotlib (pip install matplotlib)."
        ) from err
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str) -> str:
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return os.fspath(path)


def confusion_matrix(
    targets: Sequence[int], predictions: Sequence[int], n_classes: int
) -> np.ndarray:
    """Counts ``[n_classes, n_classes]``: rows true class, columns predicted.

    Arguments
    ---------
    targets : list of int
        True class indices.
    predictions : list of int
        Predicted class indices.
    n_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        Integer counts.

    Example
    -------
    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    """
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    if targets.shape != predictions.shape:
        raise ValueError(
            f"{len(targets)} targets but {len(predictions)} predictions"
        )
    outside = (targets < 0) | (targets >= n_classes)
    outside |= (predictions < 0) | (predictions >= n_classes)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"example {i}: target {targets[i]} or prediction "
            f"{predictions[i]} is not a class index in [0, {n_classes})"
        )
    return sklearn.metrics.confusion_matrix(
        targets, predictions, labels=np.arange(n_classes)
    ).astype(np.int64)


def plot_confusion_matrix(
    matrix: np.ndarray,
    labels: Optional[Sequence[str]],
    out_png: str,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> str:
    """Plots a confusion matrix (rows: true class, columns: predicted).

    Arguments
    ---------
    matrix : numpy.ndarray
        ``[C, C]`` counts (see :func:`confusion_matrix`).
    labels : list of str, optional
        Class names.
    out_png : str
        Output PNG.
    normalize : bool
        Show row-normalised rates (recall per class) instead of counts.
    title : str
        Figure title.

    Returns
    -------
    str
        ``out_png``.

    Example
    -------
    >>> m = confusion_matrix([0, 1, 1], [0, 1, 0], 2)
    >>> path = str(getfixture("tmpdir") / "cm.png")
    >>> plot_confusion_matrix(m, ["cat", "dog"], path) == path
    True
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    n = matrix.shape[0]
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    values = matrix
    if normalize:
        rows = matrix.sum(axis=1, keepdims=True)
        values = np.divide(
            matrix, rows, out=np.zeros_like(matrix), where=rows > 0
        )
    size = min(30.0, max(5.0, 0.32 * n + 2.5))
    fig = _figure(size + 1.5, size)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(
        values, cmap="Blues", vmin=0, vmax=1 if normalize else None
    )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    font = max(4, min(10, int(200 / max(n, 1))))
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(labels, rotation=90, fontsize=font)
    ax.set_yticklabels(labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j] == 0:
                    continue
                text = (
                    f"{values[i, j]:.2f}"
                    if normalize
                    else f"{int(matrix[i, j])}"
                )
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=font,
                    color="white"
                    if values[i, j] > 0.6 * values.max()
                    else "black",
                )
    return _save(fig, out_png)


def plot_per_class_bars(
    values: Sequence[float],
    labels: Optional[Sequence[str]],
    out_png: str,
    title: str = "Per-class accuracy",
    xlabel: str = "accuracy",
    sort: bool = True,
) -> str:
    """Horizontal bar chart of a per-class metric (accuracy, AP, ...).

    Arguments
    ---------
    values : list of float
        One value per class (NaN = class absent, shown empty).
    labels : list of str, optional
        Class names.
    out_png : str
        Output PNG.
    title : str
        Figure title (the mean is appended).
    xlabel : str
        Metric name.
    sort : bool
        Sort classes by value (worst at the top).

    Returns
    -------
    str
        ``out_png``.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "acc.png")
    >>> plot_per_class_bars([0.5, 1.0], ["a", "b"], path) == path
    True
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    order = np.arange(n)
    if sort:
        order = np.argsort(np.nan_to_num(values, nan=-1.0), kind="stable")
    shown = np.nan_to_num(values[order], nan=0.0)
    fig = _figure(8, min(60.0, max(3.0, 0.22 * n + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(n), shown, color="tab:blue")
    ax.set_yticks(range(n))
    ax.set_yticklabels([labels[i] for i in order], fontsize=7)
    ax.invert_yaxis()
    upper = max(1.0, float(np.nanmax(values)) if n else 1.0)
    ax.set_xlim(0, upper)
    mean = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    ax.axvline(mean, color="tab:red", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_title(f"{title} (mean {mean:.3f})")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_png)


def plot_test_results(
    targets: Sequence[int],
    predictions: Sequence[int],
    labels: Sequence[str],
    out_dir: str,
    prefix: str = "test_",
) -> Dict[str, str]:
    """Confusion matrix and per-class accuracy PNGs of a test stage.

    Arguments
    ---------
    targets : list of int
        True class indices.
    predictions : list of int
        Predicted class indices.
    labels : list of str
        Class names by index.
    out_dir : str
        Output folder.
    prefix : str
        File name prefix.

    Returns
    -------
    dict
        ``{"confusion_matrix": path, "per_class_accuracy": path}``.

    Example
    -------
    >>> out = plot_test_results(
    ...     [0, 1, 2, 2], [0, 1, 1, 2], ["a", "b", "c"], str(getfixture("tmpdir"))
    ... )
    >>> sorted(os.path.basename(p) for p in out.values())
    ['test_confusion_matrix.png', 'test_per_class_accuracy.png']
    """
    matrix = confusion_matrix(targets, predictions, len(labels))
    counts = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.diag(matrix) / counts
    accuracy = np.where(counts > 0, accuracy, np.nan)
    total = float(np.trace(matrix) / max(1, matrix.sum()))
    return {
        "confusion_matrix": plot_confusion_matrix(
            matrix,
            labels,
            os.path.join(out_dir, f"{prefix}confusion_matrix.png"),
            title=f"Confusion matrix (accuracy {total:.3f})",
        ),
        "per_class_accuracy": plot_per_class_bars(
            accuracy,
            labels,
            os.path.join(out_dir, f"{prefix}per_class_accuracy.png"),
        ),
    }


def _parse_value(text: str) -> Optional[float]:
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_train_log(path: str) -> Dict[str, Dict[int, float]]:
    """Reads a SpeechBrain ``FileTrainLogger`` file into per-epoch series.

    Lines look like ``epoch: 3, lr: 1.00e-04 - train loss: 1.2 - valid
    loss: 1.1, valid ACC: 0.6``. Lines without an ``epoch`` (e.g. the test
    line) and non-numeric values are skipped; a repeated epoch (resumed
    run) keeps its last value.

    Arguments
    ---------
    path : str
        ``train_log.txt``.

    Returns
    -------
    dict
        ``{"train loss": {epoch: value}, "lr": {...}, ...}``.

    Example
    -------
    >>> path = getfixture("tmpdir") / "train_log.txt"
    >>> _ = path.write_text(
    ...     "epoch: 1, lr: 1.00e-04 - train loss: 2.0 - valid loss: 1.5\\n"
    ...     "epoch: 2, lr: 5.00e-05 - train loss: 1.0 - valid loss: 1.2\\n"
    ...     "Epoch loaded: 2 - test loss: 1.3\\n",
    ...     encoding="utf-8",
    ... )
    >>> log = parse_train_log(str(path))
    >>> sorted(log), log["valid loss"]
    (['lr', 'train loss', 'valid loss'], {1: 1.5, 2: 1.2})
    """
    series: Dict[str, Dict[int, float]] = {}
    with open(path, encoding="utf-8") as fin:
        for line in fin:
            items = {}
            for group in line.strip().split(" - "):
                for item in re.split(r",\s*(?=[^,:]+:)", group):
                    key, sep, value = item.partition(":")
                    if sep:
                        items[key.strip()] = value
            epoch = _parse_value(items.pop("epoch", "x"))
            if epoch is None:
                continue
            for key, value in items.items():
                number = _parse_value(value)
                if number is not None and math.isfinite(number):
                    series.setdefault(key, {})[int(epoch)] = number
    return series


# logged per epoch but not worth a curve
_NOT_CURVES = ("n_examples", "epoch")


def plot_training_curves(
    history: Any, out_png: str, title: str = "Training curves"
) -> str:
    """Plots per-epoch curves: one panel per metric, train vs valid.

    Arguments
    ---------
    history : str or dict
        A ``train_log.txt`` path or the output of :func:`parse_train_log`.
    out_png : str
        Output PNG.
    title : str
        Figure title.

    Returns
    -------
    str
        ``out_png``.

    Example
    -------
    >>> hist = {"train loss": {1: 2.0, 2: 1.0}, "valid loss": {1: 1.5, 2: 1.2},
    ...         "valid ACC": {1: 0.4, 2: 0.6}, "lr": {1: 1e-4, 2: 5e-5}}
    >>> path = str(getfixture("tmpdir") / "curves.png")
    >>> plot_training_curves(hist, path) == path
    True
    """
    if isinstance(history, (str, os.PathLike)):
        history = parse_train_log(os.fspath(history))
    if not history:
        raise ValueError("No per-epoch statistics to plot.")
    panels: Dict[str, List[Tuple[str, Dict[int, float]]]] = {}
    for key, values in history.items():
        stage, _, metric = key.partition(" ")
        if key.startswith("lr"):  # lr or lr_<param group> (one panel)
            stage, metric = key, "lr"
        elif stage not in ("train", "valid", "test") or not metric:
            stage, metric = "", key
        if metric in _NOT_CURVES:
            continue
        panels.setdefault(metric, []).append((stage or key, values))
    if not panels:
        raise ValueError("No per-epoch statistics to plot.")
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = _figure(4.5 * cols, 3.2 * rows)
    for i, (metric, curves) in enumerate(sorted(panels.items())):
        ax = fig.add_subplot(rows, cols, i + 1)
        for stage, values in curves:
            epochs = sorted(values)
            ax.plot(
                epochs,
                [values[e] for e in epochs],
                marker="o",
                markersize=3,
                label=stage,
            )
        if metric == "lr":
            ax.set_yscale("log")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(curves) > 1 or curves[0][0] != metric:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_png)


def _pooled_spectrogram(
    path: str, duration: float, max_columns: int, n_mels: int = 64
) -> Tuple[np.ndarray, float]:
    """Log-mel spectrogram of a file, averaged to at most ``max_columns``.

    Reads the file in blocks (see :func:`ast_sb.inference.tagging.iter_windows`).
    Returns ``([n_mels, columns], seconds per column)``.
    """
    import torch

    from ast_sb.inference.tagging import iter_windows
    from ast_sb.lobes.features import KaldiFbank

    fbank = KaldiFbank(n_mels=n_mels)
    total_frames = max(1, int(duration * 100))
    pool = max(1, math.ceil(total_frames / max_columns))
    block = max(60.0, pool * 0.01 * 64)  # whole columns per block
    block = pool * 0.01 * math.ceil(block / (pool * 0.01))
    columns = []
    for _, _, wav in iter_windows(path, block, block, 16000, 400):
        with torch.no_grad():
            feats = fbank(wav)[0].numpy()  # [T, M]
        n_full = (len(feats) // pool) * pool
        if n_full:
            columns.append(feats[:n_full].reshape(-1, pool, n_mels).mean(1))
        if len(feats) > n_full:
            columns.append(feats[n_full:].mean(0, keepdims=True))
    spec = np.concatenate(columns).T if columns else np.zeros((n_mels, 1))
    return spec, pool * 0.01


def plot_tagging(
    result: Any,
    out_png: str,
    audio_path: Optional[str] = None,
    max_classes: int = 10,
    max_columns: int = 2000,
    title: Optional[str] = None,
) -> str:
    """Spectrogram, class scores and event timeline of a tagged file.

    Arguments
    ---------
    result : ast_sb.inference.tagging.TaggingResult
        Output of ``SlidingWindowTagger.tag_file``.
    out_png : str
        Output PNG.
    audio_path : str, optional
        Audio for the spectrogram panel (default ``result.file``; pass
        ``""`` to skip the spectrogram).
    max_classes : int
        Classes shown: those with events first, then the highest scores.
    max_columns : int
        Time columns of the spectrogram (long files are averaged).
    title : str, optional
        Figure title (default: the file name).

    Returns
    -------
    str
        ``out_png``.

    Example
    -------
    >>> from ast_sb.inference.tagging import TagEvent, TaggingResult
    >>> res = TaggingResult(
    ...     "x.wav", 4.0, 2.0, 1.0, ["a", "b"], False,
    ...     np.array([0.0, 1.0, 2.0]), np.array([2.0, 3.0, 4.0]),
    ...     np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]),
    ...     [TagEvent(0.0, 2.0, "a", 0.8), TagEvent(2.0, 4.0, "b", 0.7)],
    ... )
    >>> path = str(getfixture("tmpdir") / "tl.png")
    >>> plot_tagging(res, path, audio_path="") == path
    True
    """
    audio_path = result.file if audio_path is None else audio_path
    duration = float(result.duration)
    scores = np.asarray(result.scores)
    labels = list(result.labels)
    event_labels = []
    for event in sorted(result.events, key=lambda e: -e.score):
        if event.label not in event_labels:
            event_labels.append(event.label)
    ranked = list(event_labels[:max_classes])
    if len(scores):
        for c in np.argsort(-scores.max(axis=0)):
            if len(ranked) >= max_classes:
                break
            if labels[c] not in ranked:
                ranked.append(labels[c])
    show_spec = bool(audio_path) and os.path.isfile(audio_path)
    n_rows = 2 + int(show_spec)
    heights = ([3] if show_spec else []) + [
        max(1.5, 0.25 * len(ranked)),
        max(1.2, 0.3 * max(1, len(event_labels[:max_classes]))),
    ]
    fig = _figure(12, sum(heights) + 1.0)
    grid = fig.add_gridspec(n_rows, 1, height_ratios=heights, hspace=0.35)
    row = 0
    axes = []
    if show_spec:
        ax = fig.add_subplot(grid[row])
        spec, step = _pooled_spectrogram(audio_path, duration, max_columns)
        ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, spec.shape[1] * step, 0, spec.shape[0]),
        )
        ax.set_ylabel("mel bin")
        ax.set_title(title or os.path.basename(result.file))
        axes.append(ax)
        row += 1
    ax = fig.add_subplot(grid[row], sharex=axes[0] if axes else None)
    if len(scores) and ranked:
        index = [labels.index(name) for name in ranked]
        mids = (
            np.asarray(result.window_starts) + np.asarray(result.window_ends)
        ) / 2
        edges = np.concatenate([[0.0], (mids[1:] + mids[:-1]) / 2, [duration]])
        ax.pcolormesh(
            edges,
            np.arange(len(ranked) + 1),
            scores[:, index].T,
            cmap="viridis",
            vmin=0,
            vmax=1,
            shading="flat",
        )
        ax.set_yticks(np.arange(len(ranked)) + 0.5)
        ax.set_yticklabels(ranked, fontsize=8)
        ax.invert_yaxis()
    ax.set_ylabel("score")
    if not axes:
        ax.set_title(title or os.path.basename(result.file))
    axes.append(ax)
    row += 1
    ax = fig.add_subplot(grid[row], sharex=axes[0])
    shown = event_labels[:max_classes]
    colors = [f"C{i % 10}" for i in range(len(shown))]
    for i, name in enumerate(shown):
        spans = [
            (e.start, e.end - e.start) for e in result.events if e.label == name
        ]
        ax.broken_barh(spans, (i + 0.1, 0.8), facecolors=colors[i])
    ax.set_yticks(np.arange(len(shown)) + 0.5)
    ax.set_yticklabels(shown, fontsize=8)
    ax.set_ylim(0, max(1, len(shown)))
    ax.invert_yaxis()
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("events")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_png)


def plot_recipe_results(
    output_folder: str,
    targets: Optional[Sequence[int]] = None,
    predictions: Optional[Sequence[int]] = None,
    labels: Optional[Sequence[str]] = None,
    train_log: Optional[str] = None,
    stats: Any = None,
) -> Dict[str, str]:
    """Writes a recipe's PNGs: training curves and test results.

    After ``brain.evaluate(test_set)`` of a single-label recipe, call
    ``plot_recipe_results(output_folder, labels=labels, stats=brain.stats)``.

    Arguments
    ---------
    output_folder : str
        Recipe output folder (PNGs go to ``<output_folder>/plots``).
    targets : list of int, optional
        Test targets (single-label); with ``predictions`` and ``labels``
        gives the confusion matrix and per-class accuracy.
    predictions : list of int, optional
        Test predictions.
    labels : list of str, optional
        Class names.
    train_log : str, optional
        Default ``<output_folder>/train_log.txt`` (skipped if missing).
    stats : ast_sb.evaluation.metrics.AccuracyStats, optional
        Filled test statistics; gives ``targets`` and ``predictions``
        (``MultiLabelStats`` are skipped: no confusion matrix).

    Returns
    -------
    dict
        Name -> written PNG path.

    Example
    -------
    >>> out = str(getfixture("tmpdir"))
    >>> paths = plot_recipe_results(out, [0, 1], [0, 0], ["a", "b"])
    >>> sorted(paths)
    ['confusion_matrix', 'per_class_accuracy']
    """
    plot_dir = os.path.join(output_folder, "plots")
    written: Dict[str, str] = {}
    train_log = train_log or os.path.join(output_folder, "train_log.txt")
    if os.path.isfile(train_log):
        history = parse_train_log(train_log)
        if history:
            written["training_curves"] = plot_training_curves(
                history, os.path.join(plot_dir, "training_curves.png")
            )
    if stats is not None and targets is None and hasattr(stats, "collect"):
        from ast_sb.evaluation.metrics import AccuracyStats

        if isinstance(stats, AccuracyStats):
            _, scores, stat_targets = stats.collect()
            if len(stat_targets):
                targets = stat_targets.tolist()
                predictions = scores.argmax(dim=-1).tolist()
    if targets is not None and predictions is not None and labels:
        written.update(
            plot_test_results(targets, predictions, labels, plot_dir, "")
        )
    return written
