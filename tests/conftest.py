"""Shared fixtures: real data loaded once, a private checkpoint cache, two threads."""

from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def mnist5k():
    from nnspaces import data

    return data.load("mnist-5k")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh checkpoint cache, also exported as NNSPACES_CACHE for subprocesses."""
    d = tmp_path / "cache"
    monkeypatch.setenv("NNSPACES_CACHE", str(d))
    return d
