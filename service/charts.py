"""The sweep's cost curve as a chart (SVG or PNG), drawn with matplotlib's Agg backend.

Money stays Decimal everywhere else; only here, for the plotting coordinates, are the values
turned into floats. Output is deterministic for the same sweep (fixed size, no timestamps in the
SVG metadata, a fixed SVG hash salt).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

matplotlib.rcParams["svg.hashsalt"] = "merit"
matplotlib.rcParams["svg.fonttype"] = "none"


def sweep_chart(sweep: dict[str, Any], fmt: str = "svg") -> bytes:
    """`SweepResult.as_dict()` -> chart bytes: payout and share of sales against the parameter,
    with reps per tier (month lines) below."""
    if fmt not in ("svg", "png"):
        raise ValueError("chart format is svg or png")
    points = sweep["points"]
    xs = [float(Decimal(p["value"])) for p in points]
    payout = [float(Decimal(p["payout"])) for p in points]
    share = [float(Decimal(p["share_of_sales"])) * 100 if p["share_of_sales"] else 0.0 for p in points]
    tiers = list(points[0]["tiers"]) if points else []
    fig, (ax1, ax3) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    try:
        ax1.plot(xs, payout, marker="o", color="#1f77b4", label="total payout")
        base = float(Decimal(sweep["baseline"]["payout"]))
        ax1.axhline(base, color="#888888", linestyle="--", linewidth=1, label="baseline payout")
        ax1.set_ylabel(f"payout ({sweep.get('currency', '')})")
        ax1.set_title(f"{sweep['parameter']} — {sweep['period']}")
        ax1.grid(True, alpha=0.3)
        ax2 = ax1.twinx()
        ax2.plot(xs, share, marker="s", color="#d62728", label="share of sales")
        ax2.set_ylabel("payout / sales (%)")
        lines = ax1.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
        for t in tiers:
            ax3.plot(xs, [p["tiers"][t] for p in points], marker=".", label=t)
        ax3.set_ylabel("month lines per tier")
        ax3.set_xlabel(sweep["parameter"])
        ax3.grid(True, alpha=0.3)
        ax3.legend(fontsize=8, loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, metadata=meta, dpi=100)
        return buf.getvalue()
    finally:
        plt.close(fig)
