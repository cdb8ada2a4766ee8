"""Print bench results as the README's tables.

    python scripts/bench_table.py RESULTS_JSON                 # the full table of one run
    python scripts/bench_table.py --latency NAME=RESULTS_JSON ...  # latency columns of several runs
"""
from __future__ import annotations

import json
import sys


def fmt(value, digits=4):
    """Fixed `digits` decimals; tiny non-zero values in 2-digit scientific notation."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return f"{value:.1e}" if value and abs(value) < 1e-3 else f"{value:.{digits}f}"
    return str(value)


def main(path: str) -> None:
    data = json.load(open(path))
    print("| target | accuracy | agreement | max abs logit diff | heatmap corr (mean / worst) | top-10% IoU "
          "| latency p50 ms | explain overhead | throughput img/s | memory MB | size MB |")
    print("| --- |" + " ---: |" * 10)
    for r in data["rows"]:
        name = r["target"] + (" *" if "reference executor" in r["status"] else "")
        if not r["status"].startswith("works"):
            print(f"| {r['target']} | {r['status']} |" + " |" * 9)
            continue
        corr = (f"{r['heatmap_corr']:.4f} / {r['heatmap_corr_min']:.4f}" if "heatmap_corr" in r else "")
        latency = fmt(r.get("latency_ms_p50"), 3) if r.get("latency_ms_p50") else "n/a"
        print(f"| {name} | {r['accuracy']:.4f} | {fmt(r.get('agreement'))} | {fmt(r.get('max_abs_logit_diff'), 2)} "
              f"| {corr} | {fmt(r.get('heatmap_iou_top10'))} | {latency} | {fmt(r.get('explain_overhead'), 3)} "
              f"| {fmt(r.get('throughput_ips'), 1)} | {fmt(r.get('memory_mb'), 1)} | {fmt(r.get('size_mb'), 2)} |")
    h = data["header"]
    print(f"\n{h['images']} images; threads {h.get('threads')}; throughput batch {h.get('batch')}; {h['machine']['cpu']}")


def latency_table(named: list[str]) -> None:
    """One row per target, per run: p50 ms, throughput img/s, memory MB."""
    runs = {n: {r["target"]: r for r in json.load(open(p))["rows"]} for n, p in (x.split("=", 1) for x in named)}
    targets = list(dict.fromkeys(t for rows in runs.values() for t, r in rows.items() if r.get("latency_ms_p50")))
    head = " | ".join(f"{n} p50 ms | {n} img/s (batch {next(iter(rows.values())).get('throughput_batch', '')}) "
                      f"| {n} memory MB" for n, rows in runs.items())
    print(f"| target | {head} |\n| --- |" + " ---: |" * (3 * len(runs)))
    for t in targets:
        cells = []
        for rows in runs.values():
            r = rows.get(t, {})
            cells += [fmt(r.get("latency_ms_p50"), 2), fmt(r.get("throughput_ips"), 1), fmt(r.get("memory_mb"), 0)]
        print(f"| {t} | " + " | ".join(c or "-" for c in cells) + " |")


if __name__ == "__main__":
    if sys.argv[1] == "--latency":
        latency_table(sys.argv[2:])
    else:
        main(sys.argv[1])
