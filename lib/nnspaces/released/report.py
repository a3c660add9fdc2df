"""What :func:`nnspaces.released.reenact` found: :class:`Reenactment`, its tables and numbers.

- :data:`PROCEDURES`, :data:`STARTS` — the procedures and start images of a re-enactment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from .passes import near_binary_fraction

#: The procedures :func:`reenact` runs, one change at a time: as released (training mode, 32
#: copies, each moved by lr/32 of its image's gradient), the same in eval mode, and eval mode on
#: one image (a 32 times larger step: the library's ``"paper-sgd"``).
PROCEDURES = ("released", "eval_copies", "eval_one")

#: Start images :func:`reenact` accepts: the nearest class image, the class mean, and the class
#: mean plus U(0, 1) noise (the released ``random=True``, the start of its logged ResNet run).
STARTS = ("min", "avg", "noise")


@dataclass
class Reenactment:
    """What :func:`reenact` found.

    Attributes
    ----------
    targets : dict procedure → (K, K) Tensor
        The released min/max targets from training-mode (``"released"``) or eval-mode (the
        others) outputs.
    starts, images : dict (procedure, start) → (K, C, H, W) Tensor
        Start images ``x_0`` and results ``x_steps``, one per class.
    histories : dict (procedure, start) → (K, steps + 1) Tensor
        The loss at the start and after every step.
    copies_spread : dict (procedure, start) → (K,) Tensor
        ``max_i ‖z_i − z_0‖`` over the copies at the end of each run (0 for one image).
    outputs : dict
        ``"batch-train"`` (N, K): training mode, batches of 32 real images (the released
        histograms); ``"copies-train"`` (N, K): training mode, each image as 32 copies (the
        released "min" start); ``"eval"`` (N, K).
    spread : dict
        ``max_{n,m} ‖Z[n] − Z[m]‖`` over the training images for each of ``outputs``, and
        ``"copies/eval"``, the ratio of the copies' spread to the eval one, and
        ``"within-copies"``, ``max_{n,b} ‖Z[n, b] − Z[n, 0]‖`` over the copies of each image.
    drift : dict
        :func:`running_stat_drift` of the released copy after its passes.
    accuracy : dict
        ``"eval"`` and ``"train-mode"`` test accuracy (batches of 32) when test images are given.
    predicted : dict (procedure, start) → (K,) Tensor
        Eval-mode class of each result.
    choice_range : dict procedure → (K,) Tensor
        :func:`choice_range` of the losses from which the "min" start was chosen.
    """

    targets: dict
    starts: dict
    images: dict
    histories: dict
    copies_spread: dict
    outputs: dict
    spread: dict
    drift: dict
    accuracy: dict = field(default_factory=dict)
    predicted: dict = field(default_factory=dict)
    choice_range: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per procedure, start and digit.

        Columns: procedure, start, digit, loss_start, loss_end, change_pct
        (``100 (loss_end / loss_start − 1)``), logged_change_pct (the same over the iterates the
        released code printed, 0 … steps − 1: it printed each loss before its step), median_step_pct
        and max_step_pct (median and largest ``100 |L_{s+1} / L_s − 1|`` over those iterates),
        distance ``‖x_end − x_0‖``, max_pixel_change ``max |x_end − x_0|``, start_norm ``‖x_0‖``,
        predicted (eval-mode class of the result), copies_spread.
        """
        rows = []
        for (proc, start), H in self.histories.items():
            X0, X1 = self.starts[(proc, start)], self.images[(proc, start)]
            dist = (X1 - X0).flatten(1).norm(dim=1)
            peak = (X1 - X0).flatten(1).abs().max(dim=1).values
            norm = X0.flatten(1).norm(dim=1)
            spread = self.copies_spread[(proc, start)]
            logged = H[:, :-1] if H.shape[1] > 2 else H  # iterates 0 … steps − 1
            steps = 100 * (logged[:, 1:] / logged[:, :-1] - 1).abs()  # (K, steps − 1)
            for c in range(len(H)):
                h0, h1 = float(H[c, 0]), float(H[c, -1])
                rows.append(
                    {
                        "procedure": proc,
                        "start": start,
                        "digit": c,
                        "loss_start": h0,
                        "loss_end": h1,
                        "change_pct": 100 * (h1 / h0 - 1),
                        "logged_change_pct": 100 * (float(logged[c, -1]) / h0 - 1),
                        "median_step_pct": float(steps[c].median()) if steps.shape[1] else 0.0,
                        "max_step_pct": float(steps[c].max()) if steps.shape[1] else 0.0,
                        "distance": float(dist[c]),
                        "max_pixel_change": float(peak[c]),
                        "start_norm": float(norm[c]),
                        "predicted": int(self.predicted[(proc, start)][c]),
                        "copies_spread": float(spread[c]),
                    }
                )
        return pd.DataFrame(rows)

    def comparison_table(self) -> pd.DataFrame:
        """The loss change per digit, the procedures side by side.

        Returns
        -------
        pandas.DataFrame
            One row per start image and digit: columns ``start``, ``digit`` and, for each
            procedure, its ``change_pct`` under the procedure's name.
        """
        df = self.table()
        wide = df.pivot(index=["start", "digit"], columns="procedure", values="change_pct")
        procs = [p for p in PROCEDURES if p in set(df["procedure"])]
        out = wide[procs].reset_index()
        out.columns.name = None
        order = {s: i for i, s in enumerate(STARTS)}
        by_start = lambda col: col.map(order) if col.name == "start" else col  # noqa: E731
        return out.sort_values(["start", "digit"], key=by_start, ignore_index=True)

    def summary_table(self) -> pd.DataFrame:
        """One row per procedure and start image, over the digits.

        Columns: procedure, start, fell (runs whose loss fell), runs, change_min, change_max (%),
        distance_median ``‖x_end − x_0‖``.
        """
        df = self.table()
        g = df.groupby(["procedure", "start"], sort=False)
        out = g.agg(
            fell=("change_pct", lambda v: int((v < 0).sum())),
            runs=("change_pct", "size"),
            change_min=("change_pct", "min"),
            change_max=("change_pct", "max"),
            distance_median=("distance", "median"),
        ).reset_index()
        rank = {p: i for i, p in enumerate(PROCEDURES)} | {s: i for i, s in enumerate(STARTS)}
        return out.sort_values(
            ["procedure", "start"], key=lambda col: col.map(rank), ignore_index=True
        )

    def numbers(self) -> dict[str, float]:
        """The numbers a chapter quotes, flat (keys are valid glue names).

        Returns
        -------
        numbers : dict
            - ``runs``: runs per procedure (digits × start images); ``digits``;
            - for each procedure ``p``: ``p_rose``, ``p_fell``, ``p_same`` (runs whose loss rose,
              fell, stayed exactly equal), ``p_change_min``, ``p_change_max`` (%),
              ``p_distance_median``, ``p_distance_max``, ``p_pixel_max`` (largest change of any
              pixel), ``p_copies_spread_max``, ``p_choice_range_median``,
              ``p_choice_range_max`` (:func:`choice_range`);
            - for each procedure and start ``s``: ``p_s_fell``, ``p_s_rose``, ``p_s_change_min``,
              ``p_s_change_max``, ``p_s_logged_min``, ``p_s_logged_max`` (the change over
              iterates 0 … steps − 1), ``p_s_step_median_min``, ``p_s_step_median_max`` (the
              smallest and largest per-digit median step, %), ``p_s_step_max`` (the largest
              step, %);
            - ``drop_ratio_median``, ``drop_ratio_min``, ``drop_ratio_max``: the loss drop of
              ``eval_one`` over that of ``eval_copies``, per run (runs where both fell);
            - ``start_norm_median``;
            - ``spread_copies``, ``spread_eval``, ``spread_batch``, ``spread_ratio``,
              ``within_copies`` (:attr:`spread`); ``drift_mean``, ``drift_var``;
            - ``target_gap``: ``‖T_released − T_eval‖_F / ‖T_eval‖_F``;
            - ``acc_eval``, ``acc_train_mode`` when measured;
            - with the "min" and "avg" starts: ``binary_min``, ``binary_avg``
              (:func:`near_binary_fraction` of the released start images) and
              ``same_min_starts`` (digits whose "min" start is the same image in training and
              eval mode).
        """
        df = self.table()
        first = df[df["procedure"] == df["procedure"].iloc[0]]
        out: dict[str, float] = {"runs": len(first), "digits": int(first["digit"].nunique())}
        for proc, d in df.groupby("procedure"):
            ch = d["loss_end"] - d["loss_start"]
            out |= {
                f"{proc}_rose": int((ch > 0).sum()),
                f"{proc}_fell": int((ch < 0).sum()),
                f"{proc}_same": int((ch == 0).sum()),
                f"{proc}_change_min": d["change_pct"].min(),
                f"{proc}_change_max": d["change_pct"].max(),
                f"{proc}_distance_median": d["distance"].median(),
                f"{proc}_distance_max": d["distance"].max(),
                f"{proc}_pixel_max": d["max_pixel_change"].max(),
                f"{proc}_copies_spread_max": d["copies_spread"].max(),
            }
        for (proc, start), d in df.groupby(["procedure", "start"]):
            k = f"{proc}_{start}"
            out |= {
                f"{k}_fell": int((d["change_pct"] < 0).sum()),
                f"{k}_rose": int((d["change_pct"] > 0).sum()),
                f"{k}_change_min": d["change_pct"].min(),
                f"{k}_change_max": d["change_pct"].max(),
                f"{k}_logged_min": d["logged_change_pct"].min(),
                f"{k}_logged_max": d["logged_change_pct"].max(),
                f"{k}_step_median_min": d["median_step_pct"].min(),
                f"{k}_step_median_max": d["median_step_pct"].max(),
                f"{k}_step_max": d["max_step_pct"].max(),
            }
        out |= _drop_ratios(df)
        for proc, r in self.choice_range.items():
            out[f"{proc}_choice_range_median"] = float(r.median())
            out[f"{proc}_choice_range_max"] = float(r.max())
        out["start_norm_median"] = df["start_norm"].median()
        names = {
            "copies-train": "copies",
            "batch-train": "batch",
            "eval": "eval",
            "copies/eval": "ratio",
            "within-copies": "within",
        }
        out |= {f"spread_{names[k]}": v for k, v in self.spread.items()}
        out |= {"drift_mean": self.drift["running_mean"], "drift_var": self.drift["running_var"]}
        Tr = self.targets["released"].double()
        Te = next(v for k, v in self.targets.items() if k != "released").double()
        out["target_gap"] = float((Tr - Te).norm() / Te.norm())
        out |= {f"acc_{k.replace('-', '_')}": v for k, v in self.accuracy.items()}
        if ("released", "min") in self.starts and ("released", "avg") in self.starts:
            out["binary_min"] = near_binary_fraction(self.starts[("released", "min")])
            out["binary_avg"] = near_binary_fraction(self.starts[("released", "avg")])
            ev = next(k for k in self.starts if k[0] != "released" and k[1] == "min")
            a, b = self.starts[("released", "min")], self.starts[ev]
            out["same_min_starts"] = sum(torch.equal(u, v) for u, v in zip(a, b))
        return {k: float(v) if not isinstance(v, int) else v for k, v in out.items()}


def _drop_ratios(df: pd.DataFrame) -> dict[str, float]:
    """The loss drop of ``eval_one`` over that of ``eval_copies``, per run where both fell."""
    if not {"eval_one", "eval_copies"} <= set(df["procedure"]):
        return {}
    key = ["start", "digit"]
    one = df[df["procedure"] == "eval_one"].set_index(key)["change_pct"]
    cop = df[df["procedure"] == "eval_copies"].set_index(key)["change_pct"]
    both = (one < 0) & (cop < 0)
    if not both.any():
        return {}
    r = (one[both] / cop[both]).astype(float)
    return {
        "drop_ratio_median": float(r.median()),
        "drop_ratio_min": float(r.min()),
        "drop_ratio_max": float(r.max()),
    }
