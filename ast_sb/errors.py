"""The base class of every error ``ast_sb`` raises.

Each error of the package derives from
:class:`AudioSpectrogramTransformerError` and from the builtin exception it
is a kind of (``ValueError``, ``FileNotFoundError``, ``RuntimeError``, ...),
so ``except AudioSpectrogramTransformerError`` catches any of them and
``except ValueError`` keeps catching the ones that are bad values.

Example
-------
>>> from ast_sb.dataio.audio import AudioLoadError
>>> issubclass(AudioLoadError, AudioSpectrogramTransformerError)
True
>>> issubclass(AudioLoadError, ValueError)
True

Authors
 * ast_sb developers 2026
"""

__all__ = ["AudioSpectrogramTransformerError", "DataPreparationError"]


class AudioSpectrogramTransformerError(Exception):
    """Base class of the errors of the ``ast_sb`` package.

    Example
    -------
    >>> from ast_sb.weights.pretrained import CheckpointError
    >>> try:
    ...     raise CheckpointError("model.pth has no encoder weights")
    ... except AudioSpectrogramTransformerError as err:
    ...     print(type(err).__name__, err)
    CheckpointError model.pth has no encoder weights
    """


class DataPreparationError(AudioSpectrogramTransformerError, ValueError):
    """Base class of the data-preparation errors (bad layout, bad values).

    Example
    -------
    >>> raise DataPreparationError("bad layout")
    Traceback (most recent call last):
    ...
    ast_sb.errors.DataPreparationError: bad layout
    """
