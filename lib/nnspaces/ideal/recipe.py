"""Figure 3 as the paper's caption describes it: for each network and digit, the start image
and procedure the caption names, run as released.

- :func:`caption_choices` — the caption's (start, method) per network and digit, one each;
- :func:`paper_recipe` — those images and how far each lies from its start image and its
  class mean;
- :func:`class_spread` — how far a class's training images lie from their class mean (the
  scale those distances are read against);
- :func:`rule_vs_recipe` — how far the rule's chosen images lie from the caption's;
- :func:`released_log_change` — the loss change of ``paper-sgd`` runs counted as the released
  log counts it.

The caption's "+training" is the released SGD (plain SGD, lr 1e-4, 100 steps on the MSE to
the min/max target, last iterate, no clipping). On the fully connected networks, which have
no batch-norm layer, the book's ``paper-sgd`` on one image is exactly that. The caption names
no "+training" for ResNet18: its images are start images, chosen as the released code chose
them, with the network in training mode and every candidate passed as 32 copies
(:func:`nnspaces.released.reenact`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from .. import paper
from ..inverse import InverseResult, class_targets, start_image
from ..outputs import cached_outputs
from .grid import run_grid, short_label

#: The columns of :func:`paper_recipe`'s table.
RECIPE_COLUMNS = [
    "network",
    "digit",
    "start",
    "method",
    "label",
    "also",
    "search",
    "distance_start",
    "pixel_change_max",
    "start_norm",
    "dist_class_mean",
    "rel_error",
    "predicted",
]


def caption_choices(
    choices: Mapping[str, Sequence[tuple[str, str, Sequence[int]]]] = paper.FIGURE3_CHOICES,
) -> dict[tuple[str, int], tuple[str, str, list[tuple[str, str]]]]:
    """One (start, method) per network and digit from the caption's lists.

    The caption names ResNet18's digit 4 twice (avg-img and avg-min-img); a figure shows one
    image per digit, so the *last* choice the caption lists for a digit is taken and the
    others are kept as ``also``.

    Returns
    -------
    chosen : dict (network, digit) → (start, method, also)
        ``also``: the caption's other (start, method) pairs for that digit.

    Examples
    --------
    >>> caption_choices()[("resnet18", 4)]
    ('avg-min', 'none', [('avg', 'none')])
    >>> caption_choices()[("fcnn1", 2)]
    ('min', 'paper-sgd', [])
    """
    listed: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for net, groups in choices.items():
        for start, method, digits in groups:
            for d in digits:
                listed.setdefault((net, int(d)), []).append((start, method))
    return {k: (*v[-1], v[:-1]) for k, v in listed.items()}


def class_spread(X: torch.Tensor, y: torch.Tensor) -> pd.Series:
    """The median distance ``‖x_n − x̄_c‖`` of class ``c``'s images from their class mean.

    Parameters
    ----------
    X : (N, 1, 28, 28) Tensor
    y : (N,) Tensor

    Returns
    -------
    spread : pandas.Series
        Indexed by class ``0 … K − 1``.

    Examples
    --------
    >>> X = torch.tensor([0.0, 2.0, 5.0, 5.0]).reshape(4, 1, 1, 1)
    >>> class_spread(X, torch.tensor([0, 0, 1, 1])).tolist()
    [1.0, 0.0]
    """
    y = torch.as_tensor(y).cpu()
    out = {}
    for c in range(int(y.max()) + 1):
        Xc = X[y == c].double().flatten(1)  # (Nc, n)
        out[c] = float((Xc - Xc.mean(0)).norm(dim=1).quantile(0.5))  # the middle two's mean
    return pd.Series(out, name="spread")


def _released_starts(rep, X, y, c: int, frac: float) -> dict[str, torch.Tensor]:
    """The released code's start images of class ``c`` from a re-enactment (training mode,
    32 copies): its ``avg`` and ``min`` starts, and ``avg-min`` ranked by the first copy's
    outputs (the copies' outputs agree to the re-enactment's ``within-copies`` spread)."""
    T = rep.targets["released"]  # (K, K) from the training-mode outputs
    Z = rep.outputs["copies-train"]  # (N, K): each image as 32 copies, the first copy's output
    return {
        "avg": rep.starts[("released", "avg")][c],
        "min": rep.starts[("released", "min")][c],
        "avg-min": start_image("avg-min", X, y, c, target=T[c], Z=Z, frac=frac),
    }


def paper_recipe(
    models: Mapping[str, nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    released: Mapping[str, object] | None = None,
    choices: Mapping[str, Sequence[tuple[str, str, Sequence[int]]]] = paper.FIGURE3_CHOICES,
    frac: float = 0.25,
) -> tuple[pd.DataFrame, dict[tuple[str, int], torch.Tensor]]:
    """The paper's Figure 3 rebuilt as its caption describes it, one image per network and digit.

    Parameters
    ----------
    models : mapping name → torch.nn.Module
        The networks whose caption row is rebuilt (names as in ``choices``).
    X : (N, 1, 28, 28) Tensor
        The training images (targets, start images and class means come from them).
    y : (N,) Tensor
    released : mapping name → :class:`nnspaces.released.Reenactment`, optional
        For a network here, the start images are those of the released search in training
        mode with 32 copies (the re-enactment's ``"released"`` starts); for the others, the
        start images of :func:`nnspaces.inverse.start_image` on eval-mode outputs.
    choices : mapping
        The caption's choices (:data:`nnspaces.paper.FIGURE3_CHOICES`); one per digit by
        :func:`caption_choices`.
    frac : float
        The share of nearest images averaged by ``avg-min``.

    Returns
    -------
    table : pandas.DataFrame
        One row per network and digit, columns :data:`RECIPE_COLUMNS`: ``start, method`` (the
        caption's, in this book's names), ``label`` (:func:`~nnspaces.ideal.grid.short_label`),
        ``also`` (the caption's other choice for the digit, or ``""``), ``search``
        (``"training mode, 32 copies"`` or ``"eval mode"``: how the start was chosen),
        ``distance_start`` ``‖x − x_0‖``, ``pixel_change_max`` ``max |x − x_0|``,
        ``start_norm`` ``‖x_0‖``, ``dist_class_mean`` ``‖x − x̄_c‖``, and for "+training"
        runs ``rel_error`` and ``predicted`` (NaN and −1 for a start image alone).
    images : dict (network, digit) → (1, 28, 28) Tensor
        The images, float32 on the CPU.

    Notes
    -----
    "+training" (``paper-sgd``) runs through :func:`run_grid` with the released min/max targets
    and no box: the released SGD on one image, memoised with the grid's batches. For a network
    with batch-norm layers that is not the released procedure (which ran in training mode on
    32 copies); the caption names no "+training" for ResNet18, and this function refuses one
    for a network listed in ``released``.
    """
    released = dict(released or {})
    picks = caption_choices(choices)
    y = torch.as_tensor(y).cpu()
    rows, images = [], {}
    for net, model in models.items():
        mine = {d: v for (n, d), v in picks.items() if n == net}
        if not mine:
            raise ValueError(f"the caption names no images for network {net!r}")
        trained = sorted({s for s, m, _ in mine.values() if m == "paper-sgd"})
        if trained and net in released:
            raise ValueError(
                f"{net}: the caption's '+training' on a re-enacted network would need the "
                "released training-mode SGD, not paper-sgd on one image"
            )
        runs: dict[tuple, InverseResult] = {}
        if trained:
            _, runs = run_grid(
                {net: model},
                X,
                y,
                starts=trained,
                methods=("none", "paper-sgd"),
                target_kind="minmax",
            )
        for d, (start, method, also) in sorted(mine.items()):
            mean = X[y == d].mean(0).cpu().float()  # (1, 28, 28)
            if method == "paper-sgd":
                x0 = runs[(net, d, start, "none")].image.float()
                res = runs[(net, d, start, "paper-sgd")]
                x, rel, pred = res.image.float(), res.rel_error, res.predicted
                search = "eval mode"
            elif method == "none":
                if net in released:
                    x0 = _released_starts(released[net], X, y, d, frac)[start].float()
                    search = "training mode, 32 copies"
                else:
                    Z = None if start == "avg" else cached_outputs(model, X)  # (N, K)
                    T = None if Z is None else class_targets(None, None, y, "minmax", Z=Z)[d]
                    x0 = start_image(start, X, y, d, target=T, Z=Z, frac=frac).float()
                    search = "eval mode"
                x, rel, pred = x0, float("nan"), -1
            else:
                raise ValueError(f"{net} digit {d}: the caption names no method {method!r}")
            images[(net, d)] = x
            rows.append(
                {
                    "network": net,
                    "digit": d,
                    "start": start,
                    "method": method,
                    "label": short_label(start, method),
                    "also": ", ".join(short_label(s, m) for s, m in also),
                    "search": search,
                    "distance_start": float((x - x0).double().norm()),
                    "pixel_change_max": float((x - x0).double().abs().max()),
                    "start_norm": float(x0.double().norm()),
                    "dist_class_mean": float((x - mean).double().norm()),
                    "rel_error": rel,
                    "predicted": pred,
                }
            )
    return pd.DataFrame(rows, columns=RECIPE_COLUMNS), images


def rule_vs_recipe(
    best: pd.DataFrame,
    results: Mapping[tuple, InverseResult],
    images: Mapping[tuple[str, int], torch.Tensor],
) -> pd.Series:
    """The distance ``‖x_rule − x_caption‖`` per network and digit.

    Parameters
    ----------
    best : pandas.DataFrame
        :func:`~nnspaces.ideal.choose_best` of the grid (network, digit, start, method).
    results : dict (network, digit, start, method) → InverseResult
        The grid's results.
    images : dict (network, digit) → Tensor
        :func:`paper_recipe`'s images.

    Returns
    -------
    pandas.Series
        Indexed by (network, digit), in float64; only the pairs both hold.
    """
    out = {}
    for r in best.itertuples():
        key = (r.network, int(r.digit))
        if key in images:
            x = results[(r.network, r.digit, r.start, r.method)].image.double()
            out[key] = float((x - images[key].double().reshape(x.shape)).norm())
    index = pd.MultiIndex.from_tuples(list(out), names=["network", "digit"])
    return pd.Series(list(out.values()), index=index, name="distance", dtype=float)


def released_log_change(
    results: Mapping[tuple, InverseResult],
    start: str = "min",
    method: str = "paper-sgd",
    last: int = 99,
) -> pd.DataFrame:
    """The loss change of ``method``'s runs from ``start`` as the released log reports it.

    The released FCNN log prints the loss *before* each of its 100 steps, so it shows iterates
    0 … 99 (the kept 100th iterate's loss is never printed), and its runs start from min-img.

    Parameters
    ----------
    results : dict (network, digit, start, method) → InverseResult
        :func:`run_grid`'s second output.
    start, method : str
        The runs read.
    last : int
        The last iterate counted (99 as logged).

    Returns
    -------
    table : pandas.DataFrame
        One row per network and digit: ``network, digit, loss_first, loss_last, change``
        with ``change = loss_last / loss_first − 1`` (−0.02: the loss fell by 2 %).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = {("n", 0, "min", "paper-sgd"): SimpleNamespace(history=[4.0, 3.0, 2.0])}
    >>> released_log_change(r, last=1)["change"].tolist()
    [-0.25]
    """
    rows = []
    for (net, digit, s, m), res in results.items():
        if s != start or m != method:
            continue
        if len(res.history) <= last:
            raise ValueError(
                f"{net} digit {digit}: {len(res.history)} losses, iterate {last} wanted"
            )
        h0, h1 = float(res.history[0]), float(res.history[last])
        rows.append(
            {
                "network": net,
                "digit": digit,
                "loss_first": h0,
                "loss_last": h1,
                "change": h1 / h0 - 1 if h0 > 0 else 0.0,
            }
        )
    if not rows:
        raise ValueError(f"no runs of {method!r} from start {start!r} in the results")
    return pd.DataFrame(rows)
