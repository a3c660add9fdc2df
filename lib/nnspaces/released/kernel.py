"""Figure 2's number for a loaded network: :func:`kernel_condition`."""

from __future__ import annotations

from torch import nn

from ..paper import RESNET_LAYER
from ..spaces import layer_spaces


def kernel_condition(model: nn.Module, layer: str = RESNET_LAYER) -> dict:
    """Figure 2's number for a network: the condition number of one convolution's kernels.

    Parameters
    ----------
    model : torch.nn.Module
        E.g. :func:`nnspaces.models.load_state_dict_file` of the released ``final_model_resnet``.
    layer : str
        Dotted name of a ``Conv2d`` (the paper's ``layer1.0.conv1``).

    Returns
    -------
    info : dict
        ``layer``; ``weight_shape`` (C_out, C_in, kh, kw); ``matrix_shape``
        ``(C_out·C_in, kh·kw)`` — one row per 2-D kernel (``view="kernels"``); ``S`` the
        singular values (descending, float64); ``condition`` ``S[0] / S[-1]``.
    """
    try:
        conv = model.get_submodule(layer)
    except AttributeError as e:
        raise ValueError(f"the network has no layer {layer!r} (e.g. 'layer1.0.conv1')") from e
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(conv).__name__}, not a Conv2d")
    sp = layer_spaces(conv, view="kernels", name=layer)
    return {
        "layer": layer,
        "weight_shape": tuple(conv.weight.shape),
        "matrix_shape": sp.shape,
        "S": sp.S,
        "condition": float(sp.S[0] / sp.S[-1]),
    }
