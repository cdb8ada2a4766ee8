"""Peak memory of one bench target, measured in a fresh process so targets do not share a high-water
mark: `python -m bench.memory TARGET CHECKPOINT WORK BATCH` prints JSON with the process's peak RSS
after imports (baseline) and after loading the target and running one batch."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np


def _status_mb(field: str) -> float | None:
    try:
        line = next(x for x in open("/proc/self/status") if x.startswith(field + ":"))
        return int(line.split()[1]) / 1024  # kB
    except (OSError, StopIteration):
        return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux `clear_refs` 5), so imports'
    transient peaks do not hide what loading and running the model costs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def peak_memory_mb(target: str, checkpoint: Path, work: Path, batch: int, timeout: float = 600) -> dict:
    """{"baseline_rss_mb", "peak_rss_mb", "memory_mb" (peak - baseline)} for one target."""
    done = subprocess.run([sys.executable, "-m", "bench.memory", target, str(checkpoint), str(work), str(batch)],
                          capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["memory probe failed"])[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    from runtime.checkpoint import load_checkpoint

    from .run import TARGETS, load_target

    name, checkpoint, work, batch = argv[0], Path(argv[1]), Path(argv[2]), int(argv[3])
    h, w = load_checkpoint(checkpoint).image_size
    reset = _reset_peak()
    baseline = _status_mb("VmRSS") if reset else _peak_mb()
    runner, _, _ = load_target(TARGETS[name], checkpoint, work)
    runner.run_batched(np.random.default_rng(0).integers(0, 256, (batch, h, w, 3), dtype=np.uint8))
    peak = _peak_mb()
    print(json.dumps({"baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak, 1),
                      "memory_mb": round(peak - baseline, 1), "peak_reset": reset}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
