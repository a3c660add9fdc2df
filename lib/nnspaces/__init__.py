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
outputs    collect_outputs(model, X): raw outputs over a data set
spaces     SVD of layers: signal, null and residual spaces, layer tables
inverse    input images that give chosen outputs (closed form, Gauss–Newton, …)
params     validate(globals(), notebook): the notebooks' papermill parameters
reproduce  the pipeline: papermill → Jupyter Book
plots      the book's figures
book       glue helpers for the chapter notebooks
"""

__version__ = "0.1.0"

from . import book, data, models, outputs, paper, params, plots, spaces, train  # noqa: E402

__all__ = [
    "book", "data", "models", "outputs", "paper", "params", "plots", "reproduce", "spaces", "train",
]  # fmt: skip
