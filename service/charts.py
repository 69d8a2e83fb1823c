"""The sweep's cost curve as a chart (SVG or PNG), drawn with matplotlib's Agg backend.

Money stays Decimal everywhere else; only here, for the plotting coordinates, are the values
turned into floats. Output is deterministic for the same sweep (fixed size, no timestamps in the
SVG metadata, a fixed SVG hash salt).

What a reader needs from it: the parameter in the policy's words (进阶激励奖 rate, not
`commission.tiers[advanced].rate`) and a rate as a percentage (1.6%, not 0.016); where the policy
stands today (a marked line at the current value); every series visible even when two are equal
(tier counts often coincide: each has its own marker and dash, hollow and of decreasing size); and
the total payout drawn over the share of sales (which is payout / sales, so the two lines run
parallel and one would hide the other). Each series carries an SVG id (`gid`) so tests can find it.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter

from service.policylabels import parameter, tier_labels

if TYPE_CHECKING:
    from engine.policy import Policy

matplotlib.rcParams["svg.hashsalt"] = "merit"
matplotlib.rcParams["svg.fonttype"] = "none"
# Chinese labels in a PNG: matplotlib falls back glyph by glyph along a list of concrete families,
# so the CJK fonts installed (fonts-noto-cjk, fonts-wqy-microhei) follow DejaVu Sans (an SVG keeps text)
_CJK = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")
_INSTALLED = {f.name for f in font_manager.fontManager.ttflist}
matplotlib.rcParams["font.family"] = ["DejaVu Sans", *(f for f in _CJK if f in _INSTALLED)]

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")


def _percent_text(value: Decimal) -> str:
    """0.016 -> "1.6%" (exact: the value's own digits, moved two places)."""
    text = format((value * 100).normalize(), "f")
    return f"{text}%"


def _tick_percent(percent: float) -> str:
    """An axis tick in percent, as short as it is exact on the axis: 1.6%, 2%, 2.25%."""
    return f"{round(percent, 8):g}%"


def sweep_chart(sweep: dict[str, Any], fmt: str = "svg", policy: Policy | None = None) -> bytes:
    """`SweepResult.as_dict()` -> chart bytes: payout and share of sales against the parameter,
    with month lines per tier below. `policy` (the sweep's baseline) gives the labels and the
    current value; without it the parameter's path is shown."""
    if fmt not in ("svg", "png"):
        raise ValueError("chart format is svg or png")
    param = parameter(policy, sweep["parameter"])
    tier_names = tier_labels(policy) if policy is not None else {}
    points = sweep["points"]
    xs = [float(Decimal(p["value"])) for p in points]
    payout = [float(Decimal(p["payout"])) for p in points]
    share = [float(Decimal(p["share_of_sales"])) * 100 if p["share_of_sales"] else 0.0 for p in points]
    tiers = list(points[0]["tiers"]) if points else []
    fig, (ax1, ax3) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    try:
        ax2 = ax1.twinx()
        ax2.plot(xs, share, marker="s", markersize=8, fillstyle="none", linestyle="--", linewidth=1,
                 color="#d62728", label="share of sales 占销售额", gid="share-of-sales")  # fmt: skip
        ax2.set_ylabel("payout / sales")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_percent(v)))
        ax1.set_zorder(ax2.get_zorder() + 1)  # the payout line is drawn over the share line
        ax1.patch.set_visible(False)
        ax1.plot(xs, payout, marker="o", markersize=4, linewidth=2, color="#1f77b4",
                 label="total payout 总支出", gid="total-payout")  # fmt: skip
        base = float(Decimal(sweep["baseline"]["payout"]))
        ax1.axhline(base, color="#888888", linestyle=":", linewidth=1, label="baseline payout", gid="baseline-payout")
        ax1.set_ylabel(f"payout ({sweep.get('currency', '')})")
        ax1.set_title(f"{param.label} — {sweep['period']}\n{param.path}", fontsize=10)
        ax1.grid(True, alpha=0.3)
        if param.current is not None:
            now = _percent_text(param.current) if param.is_rate else format(param.current, "f")
            for ax, gid in ((ax1, "current-value"), (ax3, "current-value-tiers")):
                ax.axvline(float(param.current), color="#2ca02c", linewidth=1.5, gid=gid)
            ax1.annotate(f"current {now}", (float(param.current), 1), xycoords=("data", "axes fraction"),
                         xytext=(3, -12), textcoords="offset points", color="#2ca02c", fontsize=8)  # fmt: skip
        lines = ax1.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
        for i, t in enumerate(tiers):
            name = "no tier 未达标" if t == "none" else tier_names.get(t, t)
            ax3.plot(xs, [p["tiers"][t] for p in points], marker=MARKERS[i % len(MARKERS)],
                     markersize=max(4, 11 - 2 * i), fillstyle="none", linestyle=DASHES[i % len(DASHES)],
                     label=name, gid=f"tier-{t}")  # fmt: skip
        ax3.set_ylabel("month lines per tier")
        ax3.set_xlabel(param.label)
        if param.is_rate:
            ax3.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_percent(v * 100)))
        ax3.grid(True, alpha=0.3)
        ax3.legend(fontsize=8, loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, metadata=meta, dpi=100)
        return buf.getvalue()
    finally:
        plt.close(fig)
