"""What machine and software produced a build: for the reproducibility appendix."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch

#: The packages whose versions decide the numbers and the pages.
PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "mlxtend",
            "papermill", "myst-nb", "jupyter-book", "sphinx", "nnspaces")  # fmt: skip


def package_versions(names=PACKAGES) -> pd.DataFrame:
    """Installed version of each package (``"not installed"`` when absent), read at run time."""
    rows = []
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)


def machine() -> dict[str, str]:
    """Python, OS, CPU count, torch threads and the GPU (if any) of this process."""
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "cpu cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "GPU": torch.cuda.get_device_name(0) if cuda else "none (CPU only)",
        "torch CUDA build": str(torch.version.cuda),
    }


def timings(run_log: str | Path | None) -> pd.DataFrame:
    """Seconds per executed chapter from the pipeline's ``_run.json`` (empty if absent).

    Parameters
    ----------
    run_log : path or None
        Written by :func:`nnspaces.reproduce.reproduce` after each chapter.

    Returns
    -------
    DataFrame
        Columns ``chapter, seconds``; the chapters executed before the one reading it.
    """
    if run_log is None or not Path(run_log).is_file():
        return pd.DataFrame(columns=["chapter", "seconds"])
    seconds = json.loads(Path(run_log).read_text()).get("seconds", {})
    return pd.DataFrame([{"chapter": k, "seconds": v} for k, v in seconds.items()])


def parallel_jobs(run_log: str | Path | None) -> int:
    """How many chapters the pipeline executed at once (``jobs`` in ``_run.json``; 1 if absent).

    With more than one, the chapters' times overlap: their sum exceeds the wall time.
    """
    if run_log is None or not Path(run_log).is_file():
        return 1
    return int(json.loads(Path(run_log).read_text()).get("jobs", 1))
