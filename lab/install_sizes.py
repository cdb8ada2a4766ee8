"""What each install a user picks weighs, and that the serving install serves: the figures of the
README's "Install" section.

Builds the wheel, installs it into a fresh virtual environment per install (`base`: what `pip install explainable-vit` brings;
`export`; `all`), optionally with the CPU build of torch installed first, and prints the size of
each site-packages. In the base environment it predicts an ONNX artifact with `evit runtime
predict` (pictures included), checks that neither torch nor matplotlib was installed, and that
`evit export` names the extra it needs. Needs the network (PyPI); pip's cache makes reruns quicker.

    python -m lab.install_sizes        # after `make demo` (its artifact, image and checkpoint)
    python -m lab.install_sizes --installs export,all --cpu-torch "torch==2.13.0+cpu"
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _infra.cli import CommaList

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = {"base": "", "export": "[export]", "all": "[all]"}


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)


def build_wheel(out: Path) -> Path:
    proc = run(sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT)
    if proc.returncode:
        sys.exit(f"wheel build failed (pip install build?):\n{proc.stderr[-2000:]}")
    return next(out.glob("*.whl"))


def site_packages_size(venv: Path) -> str:
    """Disk use as `du -sh` reports it (the README's figures: M and G are MiB and GiB)."""
    folder = next(venv.glob("lib/python3*/site-packages"))
    return run("du", "-sh", folder, check=True).stdout.split()[0]


def install(venv: Path, wheel: Path, extra: str, cpu_torch: str | None) -> float:
    """A fresh venv with `wheel[extra]` (CPU torch first when asked); seconds taken."""
    start = time.perf_counter()
    run(sys.executable, "-m", "venv", venv, check=True)
    pip = [venv / "bin" / "pip", "install", "-q"]
    if cpu_torch and extra:
        run(*pip, cpu_torch, check=True)
    proc = run(*pip, f"{wheel}{extra}")
    if proc.returncode:
        sys.exit(f"install of {wheel.name}{extra} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def check_serving(venv: Path, artifact: str, image: str, checkpoint: str, scratch: Path) -> None:
    """The base install predicts with pictures, without torch or matplotlib; export names its extra."""
    evit = venv / "bin" / "evit"
    out = scratch / "predictions"
    proc = run(evit, "runtime", "predict", artifact, image, "--out", out)
    pictures = sorted(p.name for p in out.glob("*.png")) if out.is_dir() else []
    installed = run(venv / "bin" / "pip", "list", "--format=freeze").stdout.lower()
    heavy = [name for name in ("torch", "matplotlib") if f"\n{name}==" in f"\n{installed}"]
    refused = run(evit, "export", "onnx", checkpoint, "--out", scratch / "export")
    print(f"base: predict exit {proc.returncode}, pictures {pictures}, heavy packages {heavy or 'none'}; "
          f"export without its extra: exit {refused.returncode}, {refused.stderr.strip()}")
    if proc.returncode or not pictures or heavy or refused.returncode != 2 or "pip install" not in refused.stderr:
        sys.exit(f"the serving install does not serve as it should:\n{proc.stdout}{proc.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.install_sizes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--installs", action=CommaList, known=EXTRAS, default=list(EXTRAS),
                        help=f"comma list of: {', '.join(EXTRAS)}")
    parser.add_argument("--cpu-torch", default=None, help="requirement installed before an extra (a CPU torch)")
    parser.add_argument("--artifact", default=str(ROOT / "runs/demo/onnx"), help="ONNX artifact the base install predicts")
    parser.add_argument("--image", default=str(ROOT / "runs/demo/images/digit0_true7.png"), help="image to predict")
    parser.add_argument("--checkpoint", default=str(ROOT / "runs/demo/checkpoint"),
                        help="checkpoint the base install must refuse to export, naming the extra")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="evit-install-") as tmp:
        scratch = Path(tmp)
        wheel = build_wheel(scratch / "dist")
        for name in args.installs:
            seconds = install(scratch / name, wheel, EXTRAS[name], args.cpu_torch)
            print(f"{name:7s} site-packages {site_packages_size(scratch / name):>6s}  (installed in {seconds:.0f} s)")
            if name == "base":
                check_serving(scratch / name, args.artifact, args.image, args.checkpoint, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
