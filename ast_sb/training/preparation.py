"""Running a recipe's data preparation, and checking what it gets.

The arguments a preparation function receives from the hyperparameters,
its run on the main process only, the check of command-line overrides
against the YAML, and the manifest line / class counts (see
:mod:`ast_sb.training.recipe`, which re-exports these names).

Authors
 * ast_sb developers 2026
"""

import os
import re
from typing import (
    Any,
    Callable,
    Dict,
    Mapping,
    Sequence,
    Union,
)

import yaml
from speechbrain.utils.distributed import run_on_main

from ast_sb.training.dataloaders import (
    TRAIN_SAMPLERS as TRAIN_SAMPLERS,
    length_quantiles as length_quantiles,
)

__all__ = [
    "PrepareKeys",
    "check_overrides",
    "class_counter",
    "count_lines",
    "prepare_arguments",
    "prepare_on_main",
]


def _include_arguments(hparams_file: str) -> Dict[str, set]:
    """Known names of each top-level ``!include`` of a YAML file.

    Those are the include's arguments (the indented keys below it) and the
    top-level keys of the included file.
    """
    with open(hparams_file, encoding="utf-8") as fin:
        text = fin.read()
    known: Dict[str, set] = {}
    pattern = r"^(\w+):\s*!include:(\S+)\n((?:[ \t]+\S.*\n?)*)"
    for key, path, block in re.findall(pattern, text, flags=re.M):
        names = set(re.findall(r"^[ \t]+(\w+):", block, flags=re.M))
        included = os.path.join(os.path.dirname(hparams_file), path)
        if os.path.isfile(included):
            with open(included, encoding="utf-8") as fin:
                names |= set(re.findall(r"^(\w+):", fin.read(), flags=re.M))
        known[key] = names
    return known


def check_overrides(hparams_file: str, overrides: str) -> None:
    r"""Rejects overrides inside an ``!include`` that HyperPyYAML ignores.

    HyperPyYAML accepts ``--model '{layers: 4}'`` and changes nothing (an
    unknown argument of an included file is dropped); the recipes expose
    the model's settings as top-level keys (``--depth 4``) instead.

    Arguments
    ---------
    hparams_file : str
        The recipe YAML.
    overrides : str
        The YAML overrides of the command line.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "model.yaml").write_text("net: !ref <depth>\n", "utf-8")
    >>> path = str(tmp / "hp.yaml")
    >>> with open(path, "w") as fout:
    ...     _ = fout.write("model: !include:model.yaml\n    depth: 2\n")
    >>> check_overrides(path, "model: {depth: 4}")
    >>> check_overrides(path, "model: {layers: 4}")
    Traceback (most recent call last):
    ...
    ValueError: Override 'model: {layers: ...}' is ignored: ...
    """
    if not overrides or not overrides.strip():
        return
    try:
        given = yaml.safe_load(overrides)
    except yaml.YAMLError:
        return  # tagged overrides: HyperPyYAML checks them itself
    if not isinstance(given, dict):
        return
    for key, known in _include_arguments(hparams_file).items():
        value = given.get(key)
        if not isinstance(value, dict):
            continue
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"Override '{key}: {{{unknown[0]}: ...}}' is ignored: "
                f"{unknown} not among the names of {key} ({sorted(known)}) "
                f"in {hparams_file}. Override a top-level key instead, e.g. "
                f"--depth, --embed_dim, --num_heads, --model_size."
            )


def count_lines(path: str) -> int:
    r"""Number of non-empty lines of a text file (e.g. ``labels.txt``).

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    int
        Its number of non-empty lines.

    Example
    -------
    >>> path = getfixture("tmpdir") / "labels.txt"
    >>> _ = path.write_text("cat\ndog\n\n", "utf-8")
    >>> count_lines(str(path))
    2
    """
    with open(path, encoding="utf-8") as fin:
        return sum(1 for line in fin if line.strip())


PrepareKeys = Union[Sequence[str], Mapping[str, str]]
"""The hyperparameters a recipe hands to its prepare function: names (the
argument and the hyperparameter are called the same) or a mapping
``argument -> hyperparameter``."""


def prepare_arguments(
    hparams: Mapping[str, Any],
    keys: PrepareKeys,
    optional: Sequence[str] = (),
) -> Dict[str, Any]:
    """The keyword arguments of a recipe's prepare function, from hparams.

    This is the one way every recipe maps its hyperparameters to its data
    preparation (:func:`prepare_on_main`, :func:`run_classification_recipe`).

    Arguments
    ---------
    hparams : Mapping
        The loaded hyperparameters.
    keys : Sequence[str] or Mapping[str, str]
        Required arguments: names, or ``argument -> hyperparameter``; a
        missing hyperparameter raises ``KeyError``.
    optional : Sequence[str]
        Arguments passed only when the hyperparameter of that name is
        defined (otherwise the prepare function's default applies).

    Returns
    -------
    dict
        Keyword arguments.

    Example
    -------
    >>> hparams = {"prepare_folder": "out", "seed": 3, "lr": 0.1}
    >>> prepare_arguments(hparams, {"save_folder": "prepare_folder"})
    {'save_folder': 'out'}
    >>> prepare_arguments(hparams, ("seed",), optional=("skip_prep", "lr"))
    {'seed': 3, 'lr': 0.1}
    """
    names = dict(keys) if isinstance(keys, Mapping) else {k: k for k in keys}
    kwargs = {arg: hparams[key] for arg, key in names.items()}
    kwargs.update({key: hparams[key] for key in optional if key in hparams})
    return kwargs


def prepare_on_main(
    prepare: Callable[..., Any],
    hparams: Mapping[str, Any],
    keys: PrepareKeys,
    optional: Sequence[str] = (),
    **extra: Any,
) -> Any:
    """Runs a recipe's data preparation on the main process.

    The keyword arguments come from :func:`prepare_arguments` (``keys``
    and ``optional``); ``extra`` keyword arguments are passed as given.
    Under DDP the other processes wait for the main one.

    Arguments
    ---------
    prepare : callable
        The recipe's preparation function (e.g. ``prepare_esc50``).
    hparams : Mapping
        The loaded hyperparameters.
    keys : Sequence[str] or Mapping[str, str]
        The hyperparameters handed over (see :func:`prepare_arguments`).
    optional : Sequence[str]
        Hyperparameters handed over only when defined.
    **extra
        Further keyword arguments of ``prepare``.

    Returns
    -------
    object
        What ``prepare`` returns (usually the manifest paths).

    Example
    -------
    >>> def prepare(save_folder, seed, skip_prep=False):
    ...     return save_folder, seed, skip_prep
    >>> hparams = {"save_folder": "out", "seed": 3, "lr": 0.1}
    >>> prepare_on_main(prepare, hparams, ("save_folder", "seed"))
    ('out', 3, False)
    >>> prepare_on_main(prepare, hparams, ("save_folder",), seed=1)
    ('out', 1, False)
    """
    kwargs = prepare_arguments(hparams, keys, optional)
    kwargs.update(extra)
    return run_on_main(prepare, kwargs=kwargs)


def class_counter(
    prepare: Callable[[Dict[str, Any]], Any],
) -> Callable[[Dict[str, Any]], int]:
    r"""Returns a ``count_classes`` for :func:`setup_experiment`.

    The returned function runs ``prepare(hparams)`` and counts the lines of
    ``<save_folder>/labels.txt`` that the preparation wrote.

    Arguments
    ---------
    prepare : callable
        ``prepare(hparams)``: the recipe's data preparation.

    Returns
    -------
    callable
        ``count_classes(hparams) -> int``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> def prepare(hparams):
    ...     _ = (tmp / "labels.txt").write_text("cat\ndog\n", "utf-8")
    >>> class_counter(prepare)({"save_folder": str(tmp)})
    2
    """

    def count_classes(hparams: Dict[str, Any]) -> int:
        prepare(hparams)
        return count_lines(os.path.join(hparams["save_folder"], "labels.txt"))

    return count_classes
