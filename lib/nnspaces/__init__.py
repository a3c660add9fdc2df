"""nnspaces — vector spaces and inverse maps of neural networks.

The library behind the reproducible book of R. Pattichis and M. S. Pattichis,
"Understanding Neural Network Systems for Image Analysis using Vector Spaces and
Inverse Maps", IEEE SSIAI 2024 (arXiv:2402.00261).

Modules
-------
data       load("mnist-5k" | "mnist" | "fashion-mnist") → train / validation / test tensors
paper      the numbers the paper reports, and verdict()
models     build("fcnn1" | "fcnn5" | "resnet18"), the paper's three networks
train      train_or_load(...): the paper's recipe, cached on disk
outputs    collect_outputs(model, X), cached_outputs(...): raw outputs over a data set (on disk)
spaces     SVD of layers: signal, null and residual spaces, layer tables
layerviews one convolution seen through every matrix view (Figure 2's chapter)
inverse    input images that give chosen outputs (closed form, Gauss–Newton, …)
ideal      the Figure 3 grid, its selection rule, and reachability of targets
summary    results at a glance, seed spread, data-set comparison
environment, performance  what the appendices record and render
params     validate(globals(), notebook): the notebooks' papermill parameters
reproduce  the pipeline: papermill → Jupyter Book
plots      the book's figures
book       glue helpers for the chapter notebooks
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    book,
    data,
    environment,
    ideal,
    inverse,
    layerviews,
    models,
    outputs,
    paper,
    params,
    performance,
    plots,
    spaces,
    summary,
    train,
)  # fmt: skip

__all__ = [
    "book", "data", "environment", "ideal", "inverse", "layerviews", "models", "outputs",
    "paper", "params", "performance", "plots", "reproduce", "spaces", "summary", "train",
]  # fmt: skip
