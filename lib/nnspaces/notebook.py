"""What a chapter notebook calls after checking its parameters: its data, its networks, and
the numerical core's heavy results kept on disk.

A notebook's parameters cell names its profile and chapter;
:func:`nnspaces.profiles.parameters` checks them and returns a dict ``P`` holding the
chapter's recipe from ``profiles.yml``. The two adapters here turn that dict into library
calls:

- :func:`load_splits` — the data ``P`` names (``dataset``, ``data_root``, ``n_train``,
  ``n_val``).
- :func:`trained_models` — that data and the networks trained on it with ``P``'s recipe
  (:func:`nnspaces.train.train_or_load`: from the cache when it holds them), each one the
  chapter declares.

The numerical core (:mod:`nnspaces.spaces`, :mod:`nnspaces.inverse`, :mod:`nnspaces.nearest`,
…) computes and returns; the chapters' calls that take minutes are memoised here
(:func:`nnspaces.cache.memo`: read back bit-identical on a rebuild, ``NNSPACES_RECOMPUTE=1``
recomputes):

- :func:`null_energy_by_layer` — :func:`nnspaces.spaces.null_energy_by_layer`;
- :func:`nearest_preimage` — :func:`nnspaces.nearest.nearest_preimage`.
"""

from __future__ import annotations

import pandas as pd
import torch

from . import cache, certificate, common, inverse, models, nearest, profiles, spaces
from . import data as _data
from .params import TRAIN_PARAMS
from .train import TrainConfig, train_or_load


def load_splits(params: dict) -> _data.Splits:
    """The data a notebook's parameters name: ``dataset`` from ``data_root``, subsampled to
    ``n_train`` / ``n_val`` (stratified, seed 0) when those are given.

    Parameters
    ----------
    params : dict
        Validated parameters; absent keys take :class:`nnspaces.train.TrainConfig`'s defaults
        (``data_root``: :func:`nnspaces.data.load`'s default folder).

    Returns
    -------
    data.Splits
        ``X_*`` (N, 1, 28, 28) float32, ``y_*`` (N,) int64; the training and validation
        splits cut to ``n_train`` and ``n_val`` images.
    """
    splits = _data.load(params.get("dataset", TrainConfig.dataset), root=params.get("data_root"))
    return _data.subsample(splits, params.get("n_train"), params.get("n_val"), seed=0)


def trained_models(params: dict, names=None, progress: bool = True):
    """Load the data and train (or load from the cache) the networks a notebook needs.

    Parameters
    ----------
    params : dict
        A notebook's ``P`` (:func:`nnspaces.profiles.parameters`, or a dict like it): the keys
        of ``params.TRAIN_PARAMS`` it holds are used (the others take ``train_or_load``'s
        defaults), and ``models`` when ``names`` is None. With ``chapter`` and ``profile``,
        every network must be one that chapter declares in ``profiles.yml``.
    names : list of str, optional
        The networks; default ``params["models"]``.
    progress : bool
        tqdm bars over epochs.

    Returns
    -------
    splits : data.Splits
        The data, training and validation splits subsampled to ``n_train`` / ``n_val``.
    nets : dict
        Model name → trained model in eval mode.
    reports : dict
        Model name → training report.

    Raises
    ------
    ParameterError
        A network the chapter does not declare (the message names the ones it does).
    """
    names = list(names if names is not None else params["models"])
    kw = {k: params[k] for k in TRAIN_PARAMS if k in params and k not in ("dataset", "data_root")}
    if "chapter" in params:
        _check_declared(params, [TrainConfig(n, params["dataset"], **kw) for n in names])
    splits = load_splits(params)
    nets, reports = {}, {}
    for name in names:
        nets[name], reports[name] = train_or_load(
            name, splits.name, splits=splits, progress=progress, **kw
        )
    return splits, nets, reports


def _check_declared(params: dict, wanted: list[TrainConfig]) -> None:
    """Each of ``wanted`` is a network chapter ``params["chapter"]`` declares under
    ``params["profile"]``: the training stage, the weights bundle and the chapter's
    fingerprint know only those."""
    declared = profiles.chapter_configs(profiles.chapter(params["chapter"]), params["profile"])
    extra = [c for c in wanted if c not in declared]
    if extra:
        raise common.ParameterError(
            f"chapter {params['chapter']!r} loads {extra[0]}, which its 'networks' entry in "
            f"profiles.yml does not declare under profile {params['profile']!r} (it declares "
            f"{', '.join(f'{c.model} on {c.dataset} seed {c.seed}' for c in declared) or 'none'}); "
            "declare it there"
        )


def null_energy_by_layer(
    model, X, y, view: str = "unfold", rtol: float | None = None, batch_size: int = 256
) -> pd.DataFrame:
    """:func:`nnspaces.spaces.null_energy_by_layer`, memoised on disk (minutes for ResNet18).

    The key holds the network's weights, the inputs, the labels and every option; the code
    digested is :mod:`nnspaces.spaces` and :mod:`nnspaces.models`. What is stored is
    :func:`~nnspaces.spaces.null_energy_fractions`' plain values.
    """
    y = torch.as_tensor(y).reshape(-1).cpu()
    key = {
        "model": model,
        "X": torch.as_tensor(X),
        "y": y,
        "view": view,
        "rtol": rtol,
        "batch_size": batch_size,
    }
    values = cache.memo(
        "null-energy",
        key,
        lambda: spaces.null_energy_fractions(model, X, y, view, rtol, batch_size),
        sources=(spaces, models),
    )
    return spaces.null_energy_frame(values)


def nearest_preimage(model, targets, references, *, gauss_newton: dict | None = None, **options):
    """:func:`nnspaces.nearest.nearest_preimage`, memoised on disk.

    The key holds the network's weights, the targets, the references and every option; the
    code digested is :mod:`nnspaces.nearest`, :mod:`nnspaces.inverse` and what they call.
    Returns ``(gn, refined)``, lists of :class:`~nnspaces.inverse.InverseResult` and
    :class:`~nnspaces.nearest.NearestResult`, bit-identical whether computed or read back.
    """
    key = {"model": model, "targets": targets, "references": references}
    return cache.memo(
        "nearest_preimage",
        key | {"gauss_newton": gauss_newton, "options": options},
        lambda: nearest.nearest_preimage(
            model, targets, references, gauss_newton=gauss_newton, **options
        ),
        sources=(nearest, inverse, certificate, spaces, models, common),
        encode=lambda pair: [[cache.dataclass_state(r) for r in rs] for rs in pair],
        decode=lambda state: (
            [inverse.InverseResult(**d) for d in state[0]],
            [nearest.NearestResult(**d) for d in state[1]],
        ),
    )
