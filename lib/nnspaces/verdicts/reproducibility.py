"""The reproducibility appendix's conclusion: does training twice give the same weights?"""

from __future__ import annotations

import pandas as pd

from . import Verdict


def rerun_identical(reruns: pd.DataFrame) -> Verdict:
    """Holds when every network's two trainings gave bit-identical weights.

    Parameters
    ----------
    reruns : DataFrame
        From :func:`nnspaces.environment.rerun_digests`: ``model``, ``identical``.

    Examples
    --------
    >>> rerun_identical(pd.DataFrame({"model": ["fcnn5"], "identical": [True]})).reason
    'identical SHA-256 of the weights for 1 of 1 networks'
    """
    if reruns.empty:
        return Verdict(False, "no network was trained twice")
    same = int(reruns["identical"].sum())
    differ = reruns.loc[~reruns["identical"].astype(bool), "model"].tolist()
    reason = f"identical SHA-256 of the weights for {same} of {len(reruns)} networks"
    return Verdict(not differ, reason + (f"; {', '.join(differ)} differ" if differ else ""))
