"""Optimizer parameter groups: head learning rate, weight decay exclusion and
layer-wise learning-rate decay.

The grouping follows timm's ``param_groups_layer_decay`` (BEiT): a module
that has ``group_matcher()`` (the AST encoder) is split into layers with
``timm.models.group_parameters``; layer ``i`` of ``n`` gets the learning
rate scale ``layer_decay ** (n - i)``, so the last layer gets
``layer_decay`` and the classifier head, the layer above it, 1. A module's
``no_weight_decay()`` names (timm's convention; the encoder's position
embedding and cls / distillation tokens) and every 1-d parameter (biases,
norms: SpeechBrain's ``rm_vector_weight_decay`` rule) get weight decay 0 when
vector weight decay is removed.

timm's own function is not used as is: it writes the weight decay value
into every group (the optimizer's default would be ignored), always removes
weight decay from 1-d parameters, and knows one model, not SpeechBrain's
dict of modules with a separate classifier.

Authors
 * ast_sb developers 2026
"""

import fnmatch
from typing import Collection, Dict, List, Mapping, Optional, Tuple

from timm.models import group_parameters
from torch import nn


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside DDP / DataParallel and ``torch.compile`` wrappers.

    Arguments
    ---------
    module : torch.nn.Module
        A module, possibly wrapped.

    Returns
    -------
    torch.nn.Module
        The wrapped module (or ``module`` itself).

    Example
    -------
    >>> lin = nn.Linear(2, 2)
    >>> unwrap(nn.DataParallel(lin)) is lin
    True
    """
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    while True:
        if isinstance(module, wrappers):
            module = module.module
        elif isinstance(getattr(module, "_orig_mod", None), nn.Module):
            module = module._orig_mod
        else:
            return module


def layer_ids(module: nn.Module) -> Tuple[Dict[str, int], int]:
    """Layer of each parameter of a module, from its ``group_matcher()``.

    Arguments
    ---------
    module : torch.nn.Module
        A module with timm's ``group_matcher()`` (e.g. the AST encoder).

    Returns
    -------
    layers : dict
        Parameter name -> layer (0: the embedding).
    n_layers : int
        Number of layers.

    Example
    -------
    >>> from ast_sb.lobes.model import AudioSpectrogramTransformerEncoder
    >>> enc = AudioSpectrogramTransformerEncoder("tiny224", depth=2)
    >>> layers, n_layers = layer_ids(enc)
    >>> [layers[n] for n in ("pos_embed", "blocks.0.norm1.weight", "norm.bias")]
    [0, 1, 2]
    >>> n_layers
    3
    """
    if not hasattr(module, "group_matcher"):
        raise ValueError(
            f"layer_decay needs an encoder with group_matcher() (timm's "
            f"convention); {type(module).__name__} has none."
        )
    layers = group_parameters(module, module.group_matcher(), reverse=True)
    return layers, max(layers.values()) + 1


def parameter_groups(
    modules: Mapping[str, nn.Module],
    head: Collection[str] = ("classifier",),
    remove_vector_weight_decay: bool = False,
    layer_decay: Optional[float] = None,
    head_lr_scale: float = 1.0,
) -> Tuple[List[dict], List[float]]:
    """Param groups of the trainable parameters of ``modules``.

    Arguments
    ---------
    modules : mapping of str to torch.nn.Module
        The Brain's modules (wrapped ones are unwrapped for the names).
        Parameters shared between modules are grouped once, where first
        met.
    head : collection of str
        Names of the head modules (lr scale ``head_lr_scale``); the others
        form the encoder part.
    remove_vector_weight_decay : bool
        Put 1-d parameters and the modules' ``no_weight_decay()`` names in
        groups with ``weight_decay`` 0.
    layer_decay : float, optional
        Layer-wise lr decay in (0, 1]: layer ``i`` of the ``n`` layers of
        an encoder-part module with ``group_matcher()`` (:func:`layer_ids`)
        gets the lr scale ``layer_decay ** (n - i)``, the head (layer ``n``)
        ``head_lr_scale``. Encoder-part modules without a
        ``group_matcher()`` keep scale 1. None: no layer decay.
    head_lr_scale : float
        Learning-rate scale of the head.

    Returns
    -------
    groups : list of dict
        Param groups with ``params`` and ``name`` ("encoder", "head",
        "encoder_layer<i>" under layer decay, and "_no_decay" added for
        weight decay 0), in the order encoder then head, by layer,
        no-decay first.
    lr_scales : list of float
        Learning-rate scale of each group (the optimizer's lr times it).

    Example
    -------
    >>> modules = {"enc": nn.Linear(3, 3), "classifier": nn.Linear(3, 2)}
    >>> groups, scales = parameter_groups(
    ...     modules, remove_vector_weight_decay=True, head_lr_scale=10.0
    ... )
    >>> [(g["name"], g.get("weight_decay")) for g in groups]
    [('encoder_no_decay', 0.0), ('encoder', None), ('head_no_decay', 0.0), ('head', None)]
    >>> scales
    [1.0, 1.0, 10.0, 10.0]
    """
    if layer_decay is not None and not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}.")
    buckets: Dict[Tuple[bool, int, bool], dict] = {}
    seen = set()
    has_layers = False
    for module_name, module in modules.items():
        module = unwrap(module)
        is_head = module_name in head
        layers, n_layers = {}, 0
        if layer_decay is not None and not is_head:
            if hasattr(module, "group_matcher"):
                layers, n_layers = layer_ids(module)
                has_layers = True
        skip = (
            module.no_weight_decay()
            if hasattr(module, "no_weight_decay")
            else ()
        )
        for name, param in module.named_parameters():
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            no_decay = remove_vector_weight_decay and (
                param.ndim == 1
                or any(fnmatch.fnmatch(name, pattern) for pattern in skip)
            )
            layer = layers.get(name, -1)
            scale = head_lr_scale if is_head else 1.0
            if layer >= 0:
                scale = layer_decay ** (n_layers - layer)
            bucket = buckets.setdefault(
                (is_head, layer, not no_decay), {"params": [], "scale": scale}
            )
            bucket["params"].append(param)
    if layer_decay is not None and not has_layers:
        raise ValueError(
            "layer_decay needs an encoder with group_matcher() (timm's "
            "convention); none of the modules "
            f"{[type(unwrap(m)).__name__ for m in modules.values()]} has one."
        )
    groups, lr_scales = [], []
    for (is_head, layer, decay), bucket in sorted(buckets.items()):
        name = "head" if is_head else "encoder"
        if layer >= 0:
            name += f"_layer{layer}"
        group = {"params": bucket["params"], "name": name}
        if not decay:
            group["name"] = name + "_no_decay"
            group["weight_decay"] = 0.0
        groups.append(group)
        lr_scales.append(bucket["scale"])
    return groups, lr_scales
