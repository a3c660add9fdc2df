"""Tests of nnspaces.verdicts.reach: each condition of the reachability chapter holds, fails,
and is decided at its threshold as documented; missing networks and NaN never hold."""

from __future__ import annotations

import pytest

from nnspaces.inverse import REACHED_TOL
from nnspaces.verdicts import Verdict
from nnspaces.verdicts import reach as v

NAN = float("nan")


def test_minmax_out_of_reach():
    assert v.minmax_out_of_reach({"fcnn1": 0, "resnet18": 0}, {"fcnn1": 10, "resnet18": 10})
    verdict = v.minmax_out_of_reach({"fcnn1": 0, "fcnn5": 1}, {"fcnn1": 10, "fcnn5": 10})
    assert isinstance(verdict, Verdict) and not verdict.holds
    assert "fcnn5 1 of 10" in verdict.reason
    assert not v.minmax_out_of_reach({}, {})  # nothing measured: nothing to state


def test_class_mean_reached():
    assert v.class_mean_reached({"fcnn1": 10, "fcnn5": 10}, {"fcnn1": 10, "fcnn5": 10})
    assert not v.class_mean_reached({"fcnn1": 10, "fcnn5": 9}, {"fcnn1": 10, "fcnn5": 10})
    assert not v.class_mean_reached({"fcnn1": 0}, {"fcnn1": 0})  # no digit tried
    assert not v.class_mean_reached({}, {})
    assert "fcnn5 9 of 10" in v.class_mean_reached({"fcnn5": 9}, {"fcnn5": 10}).reason


def _free(**changes):
    row = {
        "free_rel_error_max": 1e-15,
        "free_min_pixel": -3.0,
        "free_max_pixel": 4.0,
        "free_outside_median": 400.0,
    }
    return {**row, **changes}


def test_free_exact_not_images():
    assert v.free_exact_not_images({"fcnn1": _free(), "fcnn5": _free()})
    # each condition alone fails it
    for change in (
        {"free_rel_error_max": 1e-3},
        {"free_min_pixel": -0.2},
        {"free_max_pixel": 1.2},
        {"free_outside_median": 50.0},
        {"free_min_pixel": NAN},
    ):
        assert not v.free_exact_not_images({"fcnn1": _free(), "fcnn5": _free(**change)}), change
    assert not v.free_exact_not_images({})
    # thresholds: the error at the tolerance counts as reached; the pixel count is inclusive,
    # the pixel range strict
    assert v.free_exact_not_images({"n": _free(free_rel_error_max=REACHED_TOL)})
    assert not v.free_exact_not_images({"n": _free(free_rel_error_max=2 * REACHED_TOL)})
    assert v.free_exact_not_images({"n": _free(free_outside_median=v.NOT_IMAGE_PIXELS)})
    assert not v.free_exact_not_images({"n": _free(free_min_pixel=-v.NOT_IMAGE_MARGIN)})
    reason = v.free_exact_not_images({"fcnn1": _free()}).reason
    assert "fcnn1" in reason and "-3" in reason and "4" in reason


def test_resnet_reach():
    assert v.resnet_reach(10, 10, 0, 0.3)
    assert not v.resnet_reach(9, 10, 0, 0.3)
    assert not v.resnet_reach(10, 10, 1, 0.3)
    assert not v.resnet_reach(10, 10, 0, REACHED_TOL)  # reached without the box: not "none"
    assert v.resnet_reach(10, 10, 0, 2 * REACHED_TOL)
    assert not v.resnet_reach(0, 0, 0, 0.3)
    assert not v.resnet_reach(10, 10, 0, NAN)
    assert "class-mean 10 of 10" in v.resnet_reach(10, 10, 0, 0.3).reason


def test_gradient_cannot_decide():
    exact = {"fcnn1": 1e-15, "fcnn5": 1e-13}
    assert v.gradient_cannot_decide(
        {"fcnn1": 0.1, "fcnn5": 0.3}, {"fcnn1": 0.2, "fcnn5": 0.8}, exact
    )
    # gradient descent nearly solves the reachable targets: its residual tells them apart
    assert not v.gradient_cannot_decide(
        {"fcnn1": 0.01, "fcnn5": 0.3}, {"fcnn1": 0.2, "fcnn5": 0.8}, exact
    )
    # gradient descent reaches them as well as the exact methods
    assert not v.gradient_cannot_decide({"fcnn1": 1e-13}, {"fcnn1": 0.2}, {"fcnn1": 1e-15})
    # the exact error is floored at round-off: 1e-9 is "stalled" even against an exact 0
    assert v.gradient_cannot_decide({"fcnn1": 2e-9}, {"fcnn1": 1e-8}, {"fcnn1": 0.0})
    assert not v.gradient_cannot_decide({"fcnn1": 1e-9}, {"fcnn1": 1e-8}, {"fcnn1": 0.0})
    assert not v.gradient_cannot_decide({}, {}, {})
    assert not v.gradient_cannot_decide({"fcnn1": NAN}, {"fcnn1": 0.2}, {"fcnn1": 1e-15})


def test_closed_form_nearest():
    assert v.closed_form_nearest(10, 10, 0.0)
    assert v.closed_form_nearest(10, 10, v.CLOSED_FORM_KAPPA)
    assert not v.closed_form_nearest(10, 10, 2 * v.CLOSED_FORM_KAPPA)
    assert not v.closed_form_nearest(9, 10, 0.0)  # one without the convexity proof
    assert not v.closed_form_nearest(0, 0, 0.0)  # no 1-layer network in the run
    verdict = v.closed_form_nearest(10, 10, NAN)
    assert not verdict and "NaN" in verdict.reason and "10 of 10" in verdict.reason


def test_gauss_newton_not_nearest():
    assert v.gauss_newton_not_nearest(v.NOT_NEAREST_KAPPA)
    assert not v.gauss_newton_not_nearest(0.5 * v.NOT_NEAREST_KAPPA)
    assert not v.gauss_newton_not_nearest(NAN)  # no 5-layer network in the run
    assert "0.3" in v.gauss_newton_not_nearest(0.3).reason


def test_refined_nearer():
    assert v.refined_nearer(10, 10, 1e-13)
    assert v.refined_nearer(10, 10, v.REFINED_TOL)
    assert not v.refined_nearer(10, 10, 2 * v.REFINED_TOL)
    assert not v.refined_nearer(9, 10, 1e-13)
    assert not v.refined_nearer(0, 0, 0.0)
    assert not v.refined_nearer(10, 10, NAN)


def test_kinks_explain_kappa():
    assert v.kinks_explain_kappa(10, 7, 0.05, 1e-9, 1e-12)
    assert v.kinks_explain_kappa(10, 10, 0.05, 1e-9, NAN)  # every point at a kink
    assert v.kinks_explain_kappa(10, 7, v.KINKED_KAPPA, v.KINK_KAPPA, v.SMOOTH_KAPPA)  # edges
    assert not v.kinks_explain_kappa(10, 7, 0.5 * v.KINKED_KAPPA, 1e-9, 1e-12)
    assert not v.kinks_explain_kappa(10, 7, 0.05, 2 * v.KINK_KAPPA, 1e-12)
    assert not v.kinks_explain_kappa(10, 7, 0.05, 1e-9, 2 * v.SMOOTH_KAPPA)
    assert not v.kinks_explain_kappa(10, 0, NAN, 1e-9, 1e-12)  # no kink: nothing to explain
    assert not v.kinks_explain_kappa(0, 0, NAN, NAN, NAN)  # no 5-layer network
    assert "7 of 10" in v.kinks_explain_kappa(10, 7, 0.05, 1e-9, 1e-12).reason


@pytest.mark.parametrize(
    "verdict",
    [
        v.minmax_out_of_reach({}, {}),
        v.free_exact_not_images({}),
        v.gradient_cannot_decide({}, {}, {}),
        v.kinks_explain_kappa(0, 0, NAN, NAN, NAN),
    ],
)
def test_reasons_say_what_was_measured(verdict):
    assert isinstance(verdict.holds, bool) and verdict.reason.strip()
    assert "no network" in verdict.reason or "0 of 0" in verdict.reason
