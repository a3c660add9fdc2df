"""Benchmarks of the book: inverse maps, spectral kernels and the book build, side by side.

Run ``python -m benchmarks`` (or ``make bench``) from the repository root; ``--quick``
finishes in under two minutes on 2 cores. Results go to a JSON file (default
``benchmarks/results/latest.json``) that the book's Performance appendix renders.
"""
