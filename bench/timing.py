"""Latency measurement: warm-up, then interleaved rounds (A B C A B C ...) so machine drift
cancels between the things compared; medians and p90 per runner."""
from __future__ import annotations

import platform
import time
from typing import Callable

import numpy as np


SETTLE_S = 0.02  # pause between runners, untimed: one runtime's spinning worker threads go idle
# before the next runner starts (ONNX Runtime's pool spins after each run; measured: without the
# pause a graph timed right after another ORT session ran ~20-40% slower at batch 32)


def interleaved_latency(runners: dict[str, Callable[[], object]], rounds: int = 10, iters: int = 20,
                        warmup: int = 5, progress: bool = True, seed: int = 0) -> dict[str, dict]:
    """Milliseconds per call of each runner: `{name: {"p50", "p90", "mean", "samples", "round_p50"}}`,
    `round_p50` the median of each round's `iters` calls (runners' rounds are a fraction of a second
    apart: ratios taken round by round cancel a slow spell of a shared host that hits both). Each
    round after the first takes the runners in a fresh order (seeded), so no runner always follows
    the same one (whose worker threads, cache footprint or spin-down it would always inherit)."""
    from tqdm import tqdm

    for run in runners.values():
        for _ in range(warmup):
            run()
    samples: dict[str, list[float]] = {name: [] for name in runners}
    rng = np.random.default_rng(seed)
    names = list(runners)
    for r in tqdm(range(rounds), desc="timing rounds", disable=not progress):
        for name in (names if r == 0 else [names[i] for i in rng.permutation(len(names))]):
            run = runners[name]
            time.sleep(SETTLE_S)
            for _ in range(iters):
                start = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: {"p50": float(np.median(s)), "p90": float(np.percentile(s, 90)), "mean": float(np.mean(s)),
                   "samples": len(s), "round_p50": [round(float(np.median(s[i:i + iters])), 4)
                                                    for i in range(0, len(s), iters)]}
            for name, s in samples.items()}


def machine_info() -> dict:
    """CPU model, core count and library versions for report headers."""
    import os

    from _infra.stamps import library_versions

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = library_versions("torch", "onnxruntime", "onnx", "transformers", "coremltools", "optimum-onnx",
                                "openvino")
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "versions": versions}
