"""The explorer's verdict: reached and certified, on both sides of the tolerance."""

import math

import pytest

from nnspaces.inverse import CERTIFIED_TOL
from nnspaces.verdicts import explore


def _info(reached=True, rel_error=1e-15, certificate=1e-16):
    return {"reached": reached, "rel_error": rel_error, "certificate": certificate}


def test_a_reached_target_with_a_small_certificate_holds():
    v = explore.certified(_info())
    assert v.holds and "at most 1e-06" in v.reason and "1e-16" in v.reason


@pytest.mark.parametrize(
    ("certificate", "holds"),
    [(CERTIFIED_TOL, True), (CERTIFIED_TOL * (1 + 1e-9), False), (math.nan, False), (None, False)],
)
def test_the_certificate_threshold(certificate, holds):
    v = explore.certified(_info(certificate=certificate))
    assert v.holds is holds
    if certificate is None or certificate != certificate:
        assert "not computed" in v.reason


def test_a_missed_target_fails_whatever_the_certificate():
    v = explore.certified(_info(reached=False, rel_error=0.25, certificate=0.0))
    assert not v.holds and v.reason == "target missed (relative error 0.25)"
