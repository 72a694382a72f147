#!/usr/bin/env python3
"""Recipe for speech emotion recognition with an Audio Spectrogram Transformer.

One script for two data sets; the hparams key ``dataset`` picks the data
preparation:

* ``dataset: iemocap``: 4 classes (neutral, happy + excited, sad, angry),
  leave-one-session-out (test on ``test_session``, validate on one speaker
  of another session, train on the rest), see ``iemocap_prepare.py``;
* ``dataset: ravdess``: 8 emotions, actor-independent split, see
  ``ravdess_prepare.py``.

To run this recipe:

    python train.py hparams/ast_iemocap.yaml \
        --data_folder /path/to/IEMOCAP_full_release --test_session 5 \
        --pretrained_path /path/to/audioset_10_10_0.4593.pth
    python train.py hparams/ast_ravdess.yaml --data_folder /path/to/RAVDESS \
        --pretrained_path /path/to/audioset_10_10_0.4593.pth

Utterances have very different lengths, so batches are length-bucketed
(``train_sampler: dynamic``, ``dynamic_batching: True``: at most
``max_batch_length`` seconds of audio each) and the encoder masks the padding
(``use_padding_mask: True``) instead of padding every clip to 10 s. At the end
the model is tested on the best checkpoint and exported as an
``EncoderClassifier`` folder (``<output_folder>/inference``).

Authors
 * ast_sb developers 2026
"""

import os
import sys
from typing import Any, Callable, Dict, Mapping, Tuple

from speechbrain.utils.distributed import run_on_main

from ast_sb.training.recipe import (
    build_datasets,
    prepare_arguments,
    setup_experiment,
    train_and_evaluate,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iemocap_prepare import prepare_iemocap  # noqa: E402
from ravdess_prepare import prepare_ravdess  # noqa: E402

#: dataset name -> (prepare function, its optional hparams keys, the keys
#: copied into the results JSON). Keys missing from the hparams keep the
#: prepare function's defaults.
DATASETS: Dict[str, Tuple[Callable[..., Dict[str, str]], tuple, tuple]] = {
    "iemocap": (
        prepare_iemocap,
        (
            "test_session",
            "valid_mode",
            "valid_speaker",
            "valid_fraction",
            "merge_excited",
            "on_missing",
            "on_corrupt",
            "seed",
        ),
        ("test_session", "valid_speaker"),
    ),
    "ravdess": (
        prepare_ravdess,
        (
            "train_actors",
            "valid_actors",
            "test_actors",
            "vocal_channels",
            "on_corrupt",
        ),
        ("test_actors", "valid_actors"),
    ),
}


def prepare_kwargs(
    hparams: Mapping[str, Any],
) -> Tuple[Callable[..., Dict[str, str]], Dict[str, Any], Dict[str, Any]]:
    """The prepare function of ``hparams["dataset"]`` and its arguments.

    Arguments
    ---------
    hparams : Mapping
        Loaded hyperparameters: ``dataset``, ``data_folder``,
        ``save_folder``, ``skip_prep`` and the dataset's split options.

    Returns
    -------
    prepare : callable
        ``prepare_iemocap`` or ``prepare_ravdess``.
    kwargs : dict
        Its keyword arguments.
    meta : dict
        Fields added to the results JSON (dataset name and split).

    Example
    -------
    >>> fn, kwargs, meta = prepare_kwargs(
    ...     {"dataset": "iemocap", "data_folder": "d", "save_folder": "s",
    ...      "test_session": 3}
    ... )
    >>> fn.__name__, kwargs["test_session"], meta
    ('prepare_iemocap', 3, {'dataset': 'iemocap', 'test_session': 3})
    >>> prepare_kwargs({"dataset": "crema-d"})
    Traceback (most recent call last):
    ...
    ValueError: Unknown dataset 'crema-d' (hparams key 'dataset'); ...
    """
    name = hparams.get("dataset")
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r} (hparams key 'dataset'); expected "
            f"one of {sorted(DATASETS)}"
        )
    prepare, option_keys, meta_keys = DATASETS[name]
    kwargs = prepare_arguments(
        hparams,
        ("data_folder", "save_folder"),
        optional=("skip_prep", *option_keys),
    )
    meta = {"dataset": name}
    meta.update({k: hparams[k] for k in meta_keys if hparams.get(k)})
    return prepare, kwargs, meta


if __name__ == "__main__":
    hparams, run_opts = setup_experiment(sys.argv[1:])
    prepare, kwargs, meta = prepare_kwargs(hparams)
    manifests = run_on_main(prepare, kwargs=kwargs)
    datasets = build_datasets(hparams, manifests)
    train_and_evaluate(hparams, run_opts, datasets, results_meta=meta)
