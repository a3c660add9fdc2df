"""What the released notebook's one logged ResNet "+training" run printed.

Facts read from the saved outputs of the authors' notebook (``demos/SSIAI_Demo.ipynb`` of
``rpattichis/SSIAI_VectorSpaces``); the book does not ship that notebook. The run starts from
the noise image (``random=True``: the class mean plus ``U(0, 1)`` noise, one noise image
repeated as the 32 copies, unclipped; the ``min`` and threshold calls are commented out) and
prints the loss *before* each of its 100 steps: iterates 0 … 99 (the 100th iterate, the one
it keeps, is never printed). Compare it with :func:`nnspaces.released.reenact`'s ``"noise"``
start over the same iterates (``logged_change_pct`` and ``median_step_pct`` of its table).
"""

#: The start image of the logged run (a :data:`nnspaces.released.STARTS` name).
START = "noise"

#: Change of the printed loss from iterate 0 to iterate 99, in %: (smallest, largest) over
#: the ten digits. It rose for every digit.
LOSS_CHANGE_PCT = (2.03, 7.18)

#: Median over the 99 printed steps of ``100 |L_{s+1} / L_s − 1|``: (smallest, largest) of
#: the ten digits' medians, in %.
MEDIAN_STEP_PCT = (0.0012, 0.57)

#: The largest single step ``100 |L_{s+1} / L_s − 1|`` of each digit: (smallest, largest), %.
MAX_STEP_PCT = (2.67, 5.43)

#: Digits of the log (one run each).
RUNS = 10
