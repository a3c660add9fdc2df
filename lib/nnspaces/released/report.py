"""What :func:`nnspaces.released.reenact` found: :class:`Reenactment`, its tables and numbers.

- :data:`PROCEDURES`, :data:`STARTS` — the procedures and start images of a re-enactment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from .passes import near_binary_fraction

#: The procedures :func:`reenact` runs: the released one (training mode) and the corrected one.
PROCEDURES = ("released", "corrected")

#: Start images :func:`reenact` accepts (the class mean and the nearest class image).
STARTS = ("min", "avg")


@dataclass
class Reenactment:
    """What :func:`reenact` found.

    Attributes
    ----------
    targets : dict procedure → (K, K) Tensor
        The released min/max targets from training-mode (``"released"``) or eval-mode
        (``"corrected"``) outputs.
    starts, images : dict (procedure, start) → (K, C, H, W) Tensor
        Start images ``x_0`` and results ``x_steps``, one per class.
    histories : dict (procedure, start) → (K, steps + 1) Tensor
        The loss at the start and after every step.
    copies_spread : dict start → (K,) Tensor
        ``max_i ‖z_i − z_0‖`` over the 32 copies at the end of each released run.
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
        (``100 (loss_end / loss_start − 1)``), distance ``‖x_end − x_0‖``, max_pixel_change
        ``max |x_end − x_0|``, start_norm ``‖x_0‖``, predicted (eval-mode class of the result),
        copies_spread (released only).
        """
        rows = []
        for (proc, start), H in self.histories.items():
            X0, X1 = self.starts[(proc, start)], self.images[(proc, start)]
            dist = (X1 - X0).flatten(1).norm(dim=1)
            peak = (X1 - X0).flatten(1).abs().max(dim=1).values
            norm = X0.flatten(1).norm(dim=1)
            spread = self.copies_spread.get(start) if proc == "released" else None
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
                        "distance": float(dist[c]),
                        "max_pixel_change": float(peak[c]),
                        "start_norm": float(norm[c]),
                        "predicted": int(self.predicted[(proc, start)][c]),
                        "copies_spread": float(spread[c]) if spread is not None else float("nan"),
                    }
                )
        return pd.DataFrame(rows)

    def comparison_table(self) -> pd.DataFrame:
        """Loss change and distance moved per digit, the two procedures side by side.

        Returns
        -------
        pandas.DataFrame
            One row per start image and digit; for each procedure the columns
            ``"<procedure> loss change (%)"`` and ``"<procedure> distance"``.
        """
        df = self.table()
        wide = df.pivot(
            index=["start", "digit"], columns="procedure", values=["change_pct", "distance"]
        )
        cols = {}
        for proc in [p for p in PROCEDURES if p in set(df["procedure"])]:
            cols[f"{proc} loss change (%)"] = wide[("change_pct", proc)]
            cols[f"{proc} distance"] = wide[("distance", proc)]
        order = {s: i for i, s in enumerate(STARTS)}
        out = pd.DataFrame(cols).reset_index()
        by_start = lambda col: col.map(order) if col.name == "start" else col  # noqa: E731
        return out.sort_values(["start", "digit"], key=by_start, ignore_index=True)

    def numbers(self) -> dict[str, float]:
        """The numbers a chapter quotes, flat (keys are valid glue names).

        Returns
        -------
        numbers : dict
            - ``runs``: runs per procedure (digits × start images);
            - for each procedure ``p``: ``p_rose``, ``p_fell``, ``p_same`` (runs whose loss rose,
              fell, stayed exactly equal), ``p_change_min``, ``p_change_max`` (%),
              ``p_distance_median``, ``p_distance_max``, ``p_pixel_max`` (largest change of any
              pixel), ``p_choice_range_median``, ``p_choice_range_max`` (:func:`choice_range`);
            - ``start_norm_median``; ``copies_spread_max`` (released runs);
            - ``spread_copies``, ``spread_eval``, ``spread_batch``, ``spread_ratio``,
              ``within_copies`` (:attr:`spread`); ``drift_mean``, ``drift_var``;
            - ``target_gap``: ``‖T_released − T_corrected‖_F / ‖T_corrected‖_F``;
            - ``acc_eval``, ``acc_train_mode`` when measured;
            - with both start kinds: ``binary_min``, ``binary_avg``
              (:func:`near_binary_fraction` of the released start images) and
              ``same_min_starts`` (digits whose "min" start is the same image in both procedures).
        """
        df = self.table()
        out: dict[str, float] = {"runs": int((df["procedure"] == PROCEDURES[0]).sum())}
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
            }
        for proc, r in self.choice_range.items():
            out[f"{proc}_choice_range_median"] = float(r.median())
            out[f"{proc}_choice_range_max"] = float(r.max())
        out["start_norm_median"] = df["start_norm"].median()
        out["copies_spread_max"] = df["copies_spread"].max()
        names = {
            "copies-train": "copies",
            "batch-train": "batch",
            "eval": "eval",
            "copies/eval": "ratio",
            "within-copies": "within",
        }
        out |= {f"spread_{names[k]}": v for k, v in self.spread.items()}
        out |= {"drift_mean": self.drift["running_mean"], "drift_var": self.drift["running_var"]}
        Tr, Tc = self.targets["released"].double(), self.targets["corrected"].double()
        out["target_gap"] = float((Tr - Tc).norm() / Tc.norm())
        out |= {f"acc_{k.replace('-', '_')}": v for k, v in self.accuracy.items()}
        if ("released", "min") in self.starts and ("released", "avg") in self.starts:
            out["binary_min"] = near_binary_fraction(self.starts[("released", "min")])
            out["binary_avg"] = near_binary_fraction(self.starts[("released", "avg")])
            a, b = self.starts[("released", "min")], self.starts[("corrected", "min")]
            out["same_min_starts"] = sum(torch.equal(u, v) for u, v in zip(a, b))
        return {k: float(v) if not isinstance(v, int) else v for k, v in out.items()}
