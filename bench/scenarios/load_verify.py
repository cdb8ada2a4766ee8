"""What verifying an artifact's files costs `runtime.load`: wall time of a load in a fresh process
and the part spent in `verify_files`, when the files are hashed (the first load of a copied
artifact, or no writable cache folder) and when a verified file is remembered (`runtime.seal`)."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

NAME = "load-verify"
SUMMARY = "runtime.load of an ONNX artifact in a fresh process: ms, and the share spent verifying its files"
SMOKE = ["--preset", "demo", "--loads", "1"]  # a seconds-long run, for the tests

_CHILD = """
import json, sys, time
import runtime, runtime.manifest as manifest, runtime.predictor as predictor
spent = []
def timed(*args):
    start = time.perf_counter(); manifest.verify_files(*args); spent.append(time.perf_counter() - start)
predictor.verify_files = timed
start = time.perf_counter(); runtime.load(sys.argv[1]); total = time.perf_counter() - start
print(json.dumps({"load_ms": total * 1e3, "verify_ms": spent[0] * 1e3}))
"""


def add_arguments(parser) -> None:
    from ._setup import preset_choices

    parser.add_argument("--preset", default="vit-base", choices=preset_choices())
    parser.add_argument("--loads", type=int, default=5, help="fresh-process loads per case (default: %(default)s)")


def load_once(folder: Path, cache: Path) -> dict:
    """One `runtime.load(folder)` in a fresh Python, with `cache` as the verified-files folder."""
    env = {**os.environ, "EXPLAINABLE_VIT_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder)], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout.strip().splitlines()[-1])


def case_row(case: str, loads: list[dict]) -> dict:
    load, verify = (statistics.median(x[k] for x in loads) for k in ("load_ms", "verify_ms"))
    return {"case": case, "loads": len(loads), "load_ms_p50": load, "verify_ms_p50": verify,
            "verify_share": verify / load}


def columns() -> list[dict]:
    """The table; the target (verification under a fifth of the load) is in bench.targets."""
    from ..targets import of
    from . import column

    return [column("case"), column("loads"), column("load_ms_p50", "load p50", "ms", 0),
            column("verify_ms_p50", "verifying p50", "ms", 2), column("verify_share", "share of the load", digits=3),
            *(column(t.verdict_key, t.label) for t in of(NAME))]


def run(args) -> dict:
    from export import ExportConfig, export_model

    from ..targets import of
    from . import shaped
    from ._setup import preset_checkpoint, scratch

    work = scratch(args.preset)
    os.environ["EXPLAINABLE_VIT_CACHE"] = str(work / "exported")  # export leaves its markers here
    export_model(preset_checkpoint(args.preset, work), work / "onnx", ExportConfig(parity_images=1))
    copy = Path(shutil.copytree(work / "onnx", work / "copy"))  # new inodes: nothing remembered of them
    hashed = [load_once(copy, work / f"empty-{i}") for i in range(args.loads)]
    remembered = [load_once(work / "onnx", work / "exported") for _ in range(args.loads)]
    size = sum(f.stat().st_size for f in (work / "onnx").iterdir() if f.name != "manifest.json")
    header = {"preset": args.preset, "model_mb": round(size / 1e6, 1), "loads": args.loads,
              "about": f"`{args.preset}`, {round(size / 1e6, 1)} MB of model files, each load a fresh process"}
    rows = [case_row("hashed (a copied artifact's first load; no cache folder)", hashed),
            case_row("remembered (after export, or any later load)", remembered)]
    return shaped(header, rows, columns(), of(NAME),
                  name="load_verify" + ("" if args.preset == "vit-base" else f"_{args.preset}"))
