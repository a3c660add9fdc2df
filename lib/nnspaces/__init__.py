"""nnspaces — vector spaces and inverse maps of neural networks.

The library behind the reproducible book of R. Pattichis and M. S. Pattichis,
"Understanding Neural Network Systems for Image Analysis using Vector Spaces and
Inverse Maps", IEEE SSIAI 2024 (arXiv:2402.00261).

Modules
-------
cache      the on-disk cache: its folder, atomic writes, checked reads, the lock, memo
keys       what a cached result is keyed by: digests of keys, tensors, networks, code
common     eval_mode(model), and Spec: the rule each parameter obeys
data       load("mnist-5k" | "mnist" | "fashion-mnist") → train / validation / test tensors
paper      the numbers the paper reports, and verdict()
models     build("fcnn1" | "fcnn5" | "resnet18"), the paper's three networks
train      train_or_load(...): the paper's recipe (final-epoch weights, as released), cached
trainlength  condition number and accuracy against SGD steps, up to the paper's step count
outputs    collect_outputs(model, X), cached_outputs(...): raw outputs over a data set (on disk)
spaces     SVD of layers: signal, null and residual spaces, the rank rule, layer tables,
           one convolution seen through every matrix view (Figure 2's chapter)
certificate  κ and KKT residuals: how near a preimage is to being the nearest one
inverse    input images that give chosen outputs (closed form, Gauss–Newton, …), certified;
           one module per method. The paper's formula x* = r + W⁺(σ⁻¹(t) − b − W r) is
           inverse.closed_form_inverse(W, b, T, R)
nearest    refine(...): move a preimage along the preimage set towards the reference
ideal      the Figure 3 grid, its selection rule, and reachability of targets
released   the released ResNet procedure re-enacted (training mode, 32 copies)
summary    results at a glance, seed spread with t intervals, initialisation, data sets
verdicts   the conditions behind the book's computed conclusions
environment, performance  what the appendices record and render
params     the rules of the notebooks' own parameters, and the training defaults
notebook   trained_models(P), load_splits(P): a notebook's data and networks from its parameters
compare    the paper's figures beside ours
explorer   one inverse map, explored: its preimage, output and certificate
profiles   profiles.yml: each profile's recipe, each chapter's networks; parameters(globals(), nb)
networks   every network a profile trains (as its chapters declare), the training stage
fingerprint  what a chapter depends on, so a rebuild re-executes only what changed
bundle     reading and checking a weights bundle before anything enters the cache
registry   the published networks: one file per network, its URL and SHA-256 (registry.json)
fetch      published networks downloaded (pooch), verified and installed; else trained
weights    the trained networks as a portable, verified bundle (export / import / publish)
pages      the executed pages' provenance banner and collapsed code
forked_kernels  chapter kernels forked from a process that has done the imports once
reproduce  the pipeline: train → papermill → Jupyter Book, each step only where needed
publish, pdf  the published branch and its launch links; the PDF edition
plots      the book's figures
book       glue helpers for the chapter notebooks: figures, tables, numbers, verdicts
claims     every chapter's verdicts read back for the reproducibility appendix

Each module imports only from the layers below its own; ``lint-imports`` checks the layers
listed in ``pyproject.toml`` (``[tool.importlinter]``), from ``cache`` and ``common`` at the
bottom to ``reproduce`` and ``__main__`` at the top.
"""

__version__ = "0.1.0"

__all__ = [
    "book",
    "bundle",
    "cache",
    "certificate",
    "claims",
    "common",
    "compare",
    "data",
    "environment",
    "explorer",
    "fetch",
    "fingerprint",
    "ideal",
    "inverse",
    "forked_kernels",
    "models",
    "nearest",
    "networks",
    "notebook",
    "outputs",
    "pages",
    "paper",
    "params",
    "pdf",
    "performance",
    "plots",
    "profiles",
    "publish",
    "registry",
    "released",
    "reproduce",
    "spaces",
    "summary",
    "train",
    "trainlength",
    "verdicts",
    "weights",
]


def __getattr__(name: str):
    """Import a submodule on first use (``nnspaces.paper``, …): ``import nnspaces`` stays
    cheap, so the command line answers at once when there is nothing to compute."""
    if name in __all__:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnspaces' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
