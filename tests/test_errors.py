"""Every error of the package derives from one base class (issue 13).

Authors
 * ast_sb developers 2026
"""

import importlib
import inspect
import pkgutil

import ast_sb
from ast_sb.errors import AudioSpectrogramTransformerError


def _package_exceptions():
    found = {}
    for info in pkgutil.walk_packages(ast_sb.__path__, "ast_sb."):
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, Exception):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_package_error_derives_from_the_base_class():
    errors = _package_exceptions()
    assert len(errors) >= 15  # the package's error classes, found
    outside = sorted(
        name
        for name, cls in errors.items()
        if not issubclass(cls, AudioSpectrogramTransformerError)
    )
    assert outside == []


def test_errors_keep_their_builtin_kind():
    from ast_sb.dataio.audio import AudioLoadError
    from ast_sb.export.atomic_folder import FolderExistsError
    from ast_sb.export.model_export import ModelExportError
    from ast_sb.weights.hub import WeightsUnavailableError

    assert issubclass(AudioLoadError, ValueError)
    assert issubclass(FolderExistsError, FileExistsError)
    assert issubclass(WeightsUnavailableError, FileNotFoundError)
    assert issubclass(ModelExportError, RuntimeError)
