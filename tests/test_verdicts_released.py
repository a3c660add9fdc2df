"""The conditions of the released-ResNet chapter: both outcomes and the edge of each."""

from nnspaces.verdicts import Verdict
from nnspaces.verdicts import released as v


def test_batches_change_little_below_the_tolerance():
    assert v.batches_change_little(0.985, 0.99).holds
    assert not v.batches_change_little(0.90, 0.99).holds
    assert not v.batches_change_little(0.97, 0.99, tol=0.02).holds  # the edge: not below
    assert "points apart" in v.batches_change_little(0.985, 0.99).reason


def test_output_constant_choice_by_rounding_and_images_still_at_their_thresholds():
    assert v.output_constant(1e-6).holds and not v.output_constant(0.5).holds
    assert not v.output_constant(v.CONSTANT_RATIO).holds
    assert v.choice_by_rounding(1e-7).holds and not v.choice_by_rounding(0.2).holds
    assert not v.choice_by_rounding(v.ROUNDING_RANGE).holds
    assert v.images_still(1e-6).holds and not v.images_still(0.01).holds
    assert not v.images_still(1 / 255).holds


def test_rose_and_fell_everywhere_count_every_run():
    assert v.rose_everywhere(10, 10).holds and not v.rose_everywhere(9, 10).holds
    assert not v.rose_everywhere(0, 0).holds
    assert v.fell_everywhere(30, 30).holds and not v.fell_everywhere(29, 30).holds
    assert v.fell_everywhere(29, 30).reason == "fell in 29 of 30 runs"


def test_step_dominates_above_the_share_only():
    assert v.step_dominates(25.0).holds
    assert not v.step_dominates(1.5).holds and not v.step_dominates(2.0).holds
    none = v.step_dominates(None)
    assert not none.holds and "no run" in none.reason


def test_the_paper_images_conclusion_needs_every_premise():
    yes, no = Verdict(True, "ok"), Verdict(False, "no")
    assert v.paper_images_unchanged(yes, yes, yes).holds
    failed = v.paper_images_unchanged(yes, no, no)
    assert not failed.holds and failed.reason == "failed: choice, still"
    unchanged = v.paper_images_unchanged(yes, yes, yes)
    assert v.binarized_are_starts(unchanged, 0.9, 0.5).holds
    assert not v.binarized_are_starts(unchanged, 0.5, 0.5).holds  # the edge: not more binary
    assert not v.binarized_are_starts(failed, 0.9, 0.5).holds
