"""The flat layout's module paths, and where those modules live now.

Until the package was grouped into subpackages (``lobes``, ``dataio``,
``training``, ``inference``, ``export``, ``weights``, ``evaluation``) every
module sat directly in ``ast_sb/``. Exported folders' ``hyperparams.yaml``
(``!new:ast_sb.pipeline.WaveformEncoder``), users' YAML and code name those
old dotted paths. This table is the one place that maps them to the new
ones; :func:`install` (run by ``import ast_sb``) puts a
``sys.meta_path`` finder in front that answers an import of an old path
with the new module object itself (``ast_sb.model is ast_sb.lobes.model``),
so classes, ``isinstance`` and ``mock.patch`` of the old path all act on
the one module.

Two old modules gave their name to their room: ``ast_sb.inference`` and
``ast_sb.export`` are now packages, which forward every other attribute to
the old module's new home (:data:`PACKAGE_FORWARDS`, PEP 562
``__getattr__``), so ``ast_sb.inference.AudioSpectrogramTransformerInterface``
and ``!apply:ast_sb.export.label_encoder_with_len`` keep resolving.

New exports name the new paths (a class's ``__module__``).

Example
-------
>>> import ast_sb.model
>>> import ast_sb.lobes.model
>>> ast_sb.model is ast_sb.lobes.model
True
>>> from ast_sb.inference import AudioSpectrogramTransformerInterface
>>> AudioSpectrogramTransformerInterface.__module__
'ast_sb.inference.interface'
>>> new_module_path("ast_sb.pipeline.WaveformEncoder")
'ast_sb.inference.pipeline.WaveformEncoder'

Authors
 * ast_sb developers 2026
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Dict, Optional, Sequence

__all__ = [
    "MODULE_ALIASES",
    "PACKAGE_FORWARDS",
    "ModuleAliasFinder",
    "forward_attribute",
    "MOVED_NAMES",
    "install",
    "moved_attribute",
    "new_module_path",
]

#: Old (flat-layout) module path -> the module's path now.
MODULE_ALIASES: Dict[str, str] = {
    "ast_sb.features": "ast_sb.lobes.features",
    "ast_sb.model": "ast_sb.lobes.model",
    "ast_sb.position_embedding": "ast_sb.lobes.position_embedding",
    "ast_sb.prefix_block": "ast_sb.lobes.prefix_block",
    "ast_sb.token_budget": "ast_sb.lobes.token_budget",
    "ast_sb.augment": "ast_sb.lobes.augment",
    "ast_sb.audio": "ast_sb.dataio.audio",
    "ast_sb.audio_checks": "ast_sb.dataio.audio_checks",
    "ast_sb.manifests": "ast_sb.dataio.manifests",
    "ast_sb.labels": "ast_sb.dataio.labels",
    "ast_sb.splits": "ast_sb.dataio.splits",
    "ast_sb.data": "ast_sb.dataio.datasets",
    "ast_sb.sharding": "ast_sb.dataio.sharding",
    "ast_sb.validation": "ast_sb.dataio.validation",
    "ast_sb.seeding": "ast_sb.dataio.seeding",
    "ast_sb.brain": "ast_sb.training.brain",
    "ast_sb.recipe": "ast_sb.training.recipe",
    "ast_sb.param_groups": "ast_sb.training.param_groups",
    "ast_sb.schedulers": "ast_sb.training.schedulers",
    "ast_sb.checkpoints": "ast_sb.training.checkpoints",
    "ast_sb.averaging": "ast_sb.training.averaging",
    "ast_sb.waveform_mixup": "ast_sb.training.waveform_mixup",
    "ast_sb.background_noise": "ast_sb.training.background_noise",
    "ast_sb.norm_stats": "ast_sb.training.norm_stats",
    "ast_sb.cross_validation": "ast_sb.training.cross_validation",
    "ast_sb.baseline": "ast_sb.training.baseline",
    "ast_sb.pipeline": "ast_sb.inference.pipeline",
    "ast_sb.windows": "ast_sb.inference.windows",
    "ast_sb.tagging": "ast_sb.inference.tagging",
    "ast_sb.streaming": "ast_sb.inference.streaming",
    "ast_sb.stream_sources": "ast_sb.inference.stream_sources",
    "ast_sb.fast": "ast_sb.inference.fast",
    "ast_sb.model_info": "ast_sb.inference.model_info",
    "ast_sb.model_export": "ast_sb.export.model_export",
    "ast_sb.safe_folder": "ast_sb.export.safe_folder",
    "ast_sb.atomic_folder": "ast_sb.export.atomic_folder",
    "ast_sb.savedir": "ast_sb.export.savedir",
    "ast_sb.model_card": "ast_sb.export.model_card",
    "ast_sb.convert": "ast_sb.export.convert",
    "ast_sb.pretrained": "ast_sb.weights.pretrained",
    "ast_sb.hub": "ast_sb.weights.hub",
    "ast_sb.safe_load": "ast_sb.weights.safe_load",
    "ast_sb.metrics": "ast_sb.evaluation.metrics",
    "ast_sb.plots": "ast_sb.evaluation.plots",
}

#: Old module path that is now a package -> the module its names live in.
PACKAGE_FORWARDS: Dict[str, str] = {
    "ast_sb.inference": "ast_sb.inference.interface",
    "ast_sb.export": "ast_sb.export.folder",
}


#: Module -> {name: module it moved to}: names that left their module (to
#: break an import circle or split a big module) and stay importable there
#: through the module's ``__getattr__`` (:func:`moved_attribute`).
MOVED_NAMES: Dict[str, Dict[str, str]] = {
    "ast_sb.lobes.token_budget": {"set_token_budget": "ast_sb.lobes.model"},
}


def new_module_path(dotted: str) -> str:
    """Today's spelling of a dotted path that may name a flat-layout module.

    Arguments
    ---------
    dotted : str
        A module path or ``module.attribute`` path.

    Returns
    -------
    str
        The path with its old module prefix replaced (unchanged if none).

    Example
    -------
    >>> new_module_path("ast_sb.model.AudioSpectrogramTransformerEncoder")
    'ast_sb.lobes.model.AudioSpectrogramTransformerEncoder'
    >>> new_module_path("ast_sb.export.label_encoder_with_len")
    'ast_sb.export.folder.label_encoder_with_len'
    >>> new_module_path("ast_sb.export.folder.export_inference_folder")
    'ast_sb.export.folder.export_inference_folder'
    """
    parts = dotted.split(".")
    if len(parts) >= 2:
        old = ".".join(parts[:2])
        rest = parts[2:]
        if old in MODULE_ALIASES:
            return ".".join([MODULE_ALIASES[old], *rest])
        if old in PACKAGE_FORWARDS and rest:
            target = PACKAGE_FORWARDS[old]
            if not importlib.util.find_spec(f"{old}.{rest[0]}"):
                return ".".join([target, *rest])
    return dotted


class _AliasLoader(importlib.abc.Loader):
    """Loads an old module path as the module at its new path."""

    def __init__(self, target: str):
        self.target = target
        self._spec: Optional[importlib.machinery.ModuleSpec] = None

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import machinery set the alias spec on the module: put back
        # the module's own (its name, file and loader)
        module.__spec__ = self._spec

    def get_code(self, fullname: str):
        """The new module's code: ``python -m <old path>`` runs it."""
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)


class ModuleAliasFinder(importlib.abc.MetaPathFinder):
    """``sys.meta_path`` finder of the old paths in :data:`MODULE_ALIASES`."""

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        new = MODULE_ALIASES.get(fullname)
        if new is None:
            return None
        # origin: the new module's file (``python -m <old path>`` names it)
        origin = importlib.util.find_spec(new).origin
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(new), origin=origin
        )


def install() -> None:
    """Puts the :class:`ModuleAliasFinder` on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, ModuleAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, ModuleAliasFinder())


def forward_attribute(package: str, name: str):
    """The ``__getattr__`` of a package in :data:`PACKAGE_FORWARDS`: an
    attribute the package lacks is looked up in the old module's new home
    (imported on first use, so the package itself imports nothing).

    Arguments
    ---------
    package : str
        ``ast_sb.inference`` or ``ast_sb.export``.
    name : str
        The attribute asked for.

    Returns
    -------
    object
        The attribute of the forwarded module.
    """
    if name.startswith("__"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module = importlib.import_module(PACKAGE_FORWARDS[package])
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(
            f"module {package!r} has no attribute {name!r}"
        ) from None


def moved_attribute(module: str, name: str):
    """The ``__getattr__`` of a module in :data:`MOVED_NAMES`: a name that
    moved out of ``module`` is imported from its new module on first use.

    Arguments
    ---------
    module : str
        The module's ``__name__``.
    name : str
        The attribute asked for.

    Returns
    -------
    object
        The attribute of the module it moved to.

    Example
    -------
    >>> from ast_sb.lobes.token_budget import set_token_budget
    >>> set_token_budget.__module__
    'ast_sb.lobes.model'
    """
    target = MOVED_NAMES.get(module, {}).get(name)
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return getattr(importlib.import_module(target), name)
