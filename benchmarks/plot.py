"""The chart of a benchmark run: `python benchmarks/plot.py OUT/results.json [OUT.png]`.

Needs matplotlib (optional: `pip install '.[bench]'`); importing this module without it raises
ImportError, which run_all.py reports as "chart skipped". Needs nothing from cidx.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401


def _median_ms(stats: dict) -> float:
    return stats["median"] * 1e3


def plot(data: dict, path: Path) -> Path:
    sections = data.get("sections", {})
    panels = [name for name in ("cli_e2e", "daemon_rpc", "concurrency", "memory", "query_standalone", "ttl")
              if name in sections and "raw" in sections[name]]
    if not panels:
        raise ValueError("no plottable sections in these results")
    cols = 2
    rows = (len(panels) + 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 4.2 * rows), squeeze=False)
    meta = data.get("meta", {})
    fig.suptitle(f"cidx {meta.get('cidx_version', '')} ({meta.get('git', '')}) · {meta.get('cpus', '?')} CPUs · "
                 f"{'quick' if meta.get('quick') else 'full'} run · {meta.get('started', '')}", fontsize=11)
    for ax, name in zip(axes.flat, panels):
        raw = sections[name]["raw"]
        if name == "cli_e2e":
            st = raw["stats"]
            names = list(st)
            med = [_median_ms(st[k]) for k in names]
            p90 = [st[k]["p90"] * 1e3 for k in names]
            colors = ["grey" if k.startswith("python") else "tab:green" if k.startswith("daemon")
                      else "tab:red" if k.startswith("standalone") else "tab:blue" for k in names]
            ax.barh(names, med, color=colors, xerr=[[0] * len(med), [b - a for a, b in zip(med, p90)]])
            ax.axvline(50, color="black", ls="--", lw=1, label="50 ms budget")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("ms per process (median, whisker to p90; log scale)")
            ax.set_title("cidx query end to end")
            ax.invert_yaxis()
            ax.legend(loc="lower right", fontsize=8)
        elif name == "daemon_rpc":
            st = raw["stats"]
            keys = list(st)
            med = [_median_ms(st[k]) for k in keys]
            p99 = [st[k]["p99"] * 1e3 for k in keys]
            ax.bar(keys, med, color=["tab:green" if k.startswith("wire") else "tab:purple" for k in keys],
                   yerr=[[0] * len(med), [b - a for a, b in zip(med, p99)]])
            ax.set_ylabel("ms (median, whisker to p99)")
            ax.set_title("daemon RPC round trip (in process)")
            ax.tick_params(axis="x", rotation=30, labelsize=8)
        elif name == "concurrency":
            levels = raw["levels"]
            clients = [lv["clients"] for lv in levels]
            ax.plot(clients, [lv["qps"] for lv in levels], "o-", color="tab:blue", label="queries/s")
            ax.axhline(100, color="tab:blue", ls="--", lw=1)
            ax.set_ylim(bottom=0)
            ax.set_xscale("log")
            ax.set_xticks(clients)
            ax.set_xticklabels([str(c) for c in clients])
            ax.set_xlabel("concurrent clients (log scale)")
            ax.set_ylabel("queries/s", color="tab:blue")
            ax2 = ax.twinx()
            ax2.plot(clients, [lv["latency"]["median"] * 1e3 for lv in levels], "s-", color="tab:orange",
                     label="p50 ms")
            ax2.plot(clients, [lv["latency"]["p99"] * 1e3 for lv in levels], "^--", color="tab:red", label="p99 ms")
            ax2.set_ylabel("latency ms")
            ax2.legend(loc="upper left", fontsize=8)
            ax.set_title("concurrent clients")
        elif name == "memory":
            samples = raw["samples"]
            ax.plot([s[0] for s in samples], [s[2] / 1e6 for s in samples], "o-")
            ax.axhline(raw["rss_warm"] / 1e6 + 20, color="black", ls="--", lw=1, label="warm + 20 MB budget")
            ax.set_xlabel("queries served")
            ax.set_ylabel("daemon RSS MB")
            ax.set_title(f"daemon memory (growth {raw['growth_mb']:+.1f} MB)")
            ax.legend(fontsize=8)
        elif name == "query_standalone":
            phases = raw["probe_phases_ms"]
            modes = list(phases)
            keys = []
            for m in modes:
                for d in phases[m]:
                    keys.extend(k for k in d if not k.startswith("_") and k not in keys)
            bottom = [0.0] * len(modes)
            for k in keys:
                vals = []
                for m in modes:
                    xs = sorted(d.get(k, 0.0) for d in phases[m])
                    vals.append(xs[len(xs) // 2] if xs else 0.0)
                ax.bar(modes, vals, bottom=bottom, label=k)
                bottom = [a + b for a, b in zip(bottom, vals)]
            ax.set_ylabel("ms (medians, in process)")
            ax.set_title("standalone query: where the time goes")
            ax.legend(fontsize=6, loc="upper left")
        elif name == "ttl":
            lags = [t["lag_s"] for t in raw["trials"] if t["lag_s"] is not None]
            ax.bar(range(1, len(lags) + 1), lags)
            ax.axhline(raw["check_interval_s"] + 1, color="black", ls="--", lw=1, label="budget")
            ax.set_xlabel("trial")
            ax.set_ylabel("evicted - expiry, s")
            ax.set_title("TTL eviction lag")
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python benchmarks/plot.py RESULTS.json [OUT.png]")
    results = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else results.with_name("benchmarks.png")
    print(plot(json.loads(results.read_text()), out))
