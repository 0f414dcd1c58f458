"""PNG plots of a results document (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from .flows import FLOWS  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def flows_latency(raw: dict, out: Path) -> Path | None:
    flows = raw.get("flows") or {}
    names = [f for f in FLOWS if (flows.get(f) or {}).get("samples_ms")]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.boxplot([flows[f]["samples_ms"] for f in names], whis=(5, 95), showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), [FLOWS[f].split(" (")[0] for f in names],
                  rotation=12, fontsize=8)
    warm = (raw.get("invoke") or {}).get("warm_ms")
    if warm:
        floor = sorted(warm)[len(warm) // 2]
        ax.axhline(floor, color="grey", ls=":", label=f"floor: direct Invoke p50 {floor:.0f} ms")
    for target, style in ((150, "--"), (250, "-.")):
        ax.axhline(target, color="red", ls=style, lw=0.8, label=f"target {target} ms")
    ax.set_yscale("log")
    ax.set_ylabel("trigger -> effect (ms, log)")
    ax.set_title("Event flows: latency per sample (box 25-75 %, whiskers 5-95 %)")
    ax.legend(fontsize=8)
    return _save(fig, out / "flows_latency.png")


def http_cdf(raw: dict, out: Path) -> Path | None:
    http = raw.get("http") or {}
    if not http.get("get_user"):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "get_user", "GET /users/{id}"),
                           (axes[1], "post_user", "POST /users")):
        series = [(f"c={lv['concurrency']}", lv["samples_ms"]) for lv in http.get(key, [])]
        sts = next((lv for lv in http.get("sts", []) if lv["concurrency"] == 1), None)
        if sts:
            series.append(("floor: STS c=1", sts["samples_ms"]))
        for label, samples in series:
            if samples:
                xs = sorted(samples)
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.step(xs, ys, where="post", label=label,
                        ls=":" if label.startswith("floor") else "-")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log)")
        ax.set_title(f"{title}: latency CDF per concurrency")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("fraction of requests")
    return _save(fig, out / "http_latency_cdf.png")


def http_scaling(raw: dict, out: Path) -> Path | None:
    http = raw.get("http") or {}
    if not http.get("get_user"):
        return None
    fig, (tput, p99) = plt.subplots(1, 2, figsize=(11, 4.5))
    for key, label, style in (("get_user", "GET /users/{id}", "o-"),
                              ("post_user", "POST /users", "s-"),
                              ("sts", "floor: STS GetCallerIdentity", "^:")):
        levels = http.get(key) or []
        cs = [lv["concurrency"] for lv in levels]
        tput.plot(cs, [lv["throughput_rps"] for lv in levels], style, label=label)
        p99.plot(cs, [lv["latency_ms"].get("p99", float("nan")) for lv in levels], style,
                 label=label)
    tput.axhline(60, color="red", ls="--", lw=0.8, label="GET target at c=32")
    tput.axhline(40, color="red", ls="-.", lw=0.8, label="POST target at c=32")
    p99.axhline(1000, color="red", ls="--", lw=0.8, label="GET p99 target")
    p99.axhline(1500, color="red", ls="-.", lw=0.8, label="POST p99 target")
    for ax, ylabel in ((tput, "throughput (req/s)"), (p99, "p99 latency (ms, log)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    p99.set_yscale("log")
    tput.set_title("Throughput against concurrency")
    p99.set_title("p99 against concurrency")
    return _save(fig, out / "http_scaling.png")


def rss_timeline(raw: dict, out: Path) -> Path | None:
    samples = (raw.get("rss") or {}).get("samples") or []
    if not samples:
        return None
    fig, ax = plt.subplots(figsize=(11, 4))
    phases: list[str] = []
    for s in samples:
        if not phases or phases[-1] != s["phase"]:
            phases.append(s["phase"])
    cmap = plt.get_cmap("tab10")
    for i, phase in enumerate(dict.fromkeys(phases)):
        pts = [s for s in samples if s["phase"] == phase]
        ax.scatter([s["t"] for s in pts], [s["rss_mb"] for s in pts], s=4, color=cmap(i % 10),
                   label=phase)
    ax.axhline(1500, color="red", ls="--", lw=0.8, label="target under work")
    ax.axhline(350, color="red", ls=":", lw=0.8, label="target idle")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("RSS of LocalStack's processes (MB)")
    ax.set_title("Memory over the bench run, by phase")
    ax.legend(fontsize=7, ncol=3, markerscale=3)
    ax.grid(alpha=0.3)
    return _save(fig, out / "rss_timeline.png")


def plot_all(raw: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = [f(raw, out) for f in (flows_latency, http_cdf, http_scaling, rss_timeline)]
    return [p for p in made if p is not None]
