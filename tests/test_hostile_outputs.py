"""Hostile paths for the reporting commands (issue 26): output folders they may replace, names that
are data, flags that must be refused, and tracebacks turned into one line. The table's style is
tests/test_reliability.py's: input -> exit status, message, and what must still exist afterwards."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import LABELS, save_tiny_checkpoint, write_image_folder
from test_reliability import Case, _copy_artifact, _garbage, _main, run_case

from export import ExportConfig, export_model

ROOT = Path(__file__).resolve().parents[1]
BENCH = ["--targets", "onnx fp32", "--no-memory", "--limit", "4"]
XAI = ["--methods", "rollout", "--no-sanity", "--limit", "4"]
ODD = {"newline": "a\nb.png", "dollar": "a_$x^$.png", "bytes": os.fsdecode(b"\xff\xfe.png"), "long": "x" * 246 + ".png"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A checkpoint, its ONNX artifact (exported once), an image and a data folder whose labels match."""
    from PIL import Image

    root = tmp_path_factory.mktemp("hostile")
    ck = save_tiny_checkpoint(root / "ck", "vit")
    export_model(ck, root / "onnx", ExportConfig(parity_images=1))
    img = root / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(img)
    return {"root": root, "ck": ck, "onnx": root / "onnx", "img": img,
            "data": write_image_folder(root / "data", per_class=2)}


def _users(tmp: Path, *names: str) -> Path:
    """A user's folder holding files named as our reports are."""
    folder = tmp / "mine"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("the user's own " + name)
    return folder


def _read_only_parent(tmp: Path) -> Path:
    """An --out whose parent cannot be written: a folder without write permission, or, for root
    (who ignores permissions), a folder under /sys, where nobody may create one."""
    folder = tmp / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder / "out"
    if Path("/sys").is_dir() and sys.platform.startswith("linux"):
        return Path("/sys/explainable-vit-test/out")
    pytest.skip("no folder here that this user cannot write")


def _parquet(root: Path, corrupt: bool = False) -> Path:
    """Parquet shards with text labels (not the model's), or shards that are not parquet at all."""
    import io

    from datasets import Dataset, Features, Image as ImageFeature, Value
    from PIL import Image

    root.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="PNG")
    for split in ("train", "test"):
        path = root / f"{split}-00000-of-00001.parquet"
        if corrupt:
            path.write_bytes(b"PAR1 not really a parquet file")
            continue
        features = Features({"img": ImageFeature(), "label": Value("string")})
        Dataset.from_dict({"img": [{"bytes": buf.getvalue(), "path": None}] * 4, "label": ["cat", "dog"] * 2},
                          features=features).to_parquet(str(path))
    return root


def _broken_image_folder(tmp: Path) -> Path:
    root = write_image_folder(tmp / "imgs", per_class=2)
    (root / LABELS[0] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def _for_openvino(w: dict, tmp: Path) -> Path:
    return _garbage(_copy_artifact(w, tmp), "model.onnx")


CASES = [
    # --- output folders: a user's folder is never touched, whatever it holds
    Case("bench --out a user's folder", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(w["data"]), *BENCH, "--out", str(_users(t, "report.md", "results.json"))],
        [t / "mine" / "report.md", t / "mine" / "results.json"]), 2, "is never replaced"),
    Case("xai eval --out a user's folder", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(w["data"]), *XAI, "--out", str(_users(t, "xai_report.md"))],
        [t / "mine" / "xai_report.md"]), 2, "is never replaced"),
    Case("predict --out a user's folder", lambda t, w: (
        "runtime", ["predict", str(w["onnx"]), str(w["img"]), "--out", str(_users(t, "000_img_probs.png"))],
        [t / "mine" / "000_img_probs.png"]), 2, "is never replaced"),
    Case("predict --out ''", lambda t, w: ("runtime", ["predict", str(w["onnx"]), str(w["img"]), "--out", ""],
                                          [_users(t, "thesis.txt") / "thesis.txt"]), 2, "--out is empty"),
    Case("bench --out ''", lambda t, w: ("bench", [str(w["ck"]), "--data", str(w["data"]), *BENCH, "--out", ""],
                                        [_users(t, "thesis.txt") / "thesis.txt"]), 2, "current folder"),
    Case("predict --out under a read-only folder", lambda t, w: (
        "runtime", ["predict", str(w["onnx"]), str(w["img"]), "--out", str(_read_only_parent(t))], []), 2, "cannot"),
    Case("bench --out under a read-only folder", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(w["data"]), *BENCH, "--out", str(_read_only_parent(t))], []), 2, "cannot"),
    Case("xai eval --out under a read-only folder", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(w["data"]), *XAI, "--out", str(_read_only_parent(t))], []), 2,
        "cannot"),
    Case("predict --out under a file", lambda t, w: (
        "runtime", ["predict", str(w["onnx"]), str(w["img"]), "--out", str(w["img"] / "out")], [w["img"]]), 2,
        "is a file, not a folder"),
    # --- flags that must be refused
    Case("bench --min-accuracy nan", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(w["data"]), *BENCH, "--min-accuracy", "nan", "--out", str(t / "b")], []),
        2, "finite"),
    Case("bench --min-accuracy 1.5", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(w["data"]), *BENCH, "--min-accuracy", "1.5", "--out", str(t / "b")], []),
        2, "between 0 and 1"),
    Case("bench scenario --epochs nan", lambda t, w: (
        "bench", ["scenario", "distilled-readout", "--epochs", "nan", "--results", str(t / "r")], []), 2, "finite"),
    Case("xai eval --methods rollout,rollout", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(w["data"]), "--methods", "rollout,rollout", "--out", str(t / "x")],
        []), 2, "rollout more than once"),
    Case("xai eval --methods ''", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(w["data"]), "--methods", "", "--no-sanity", "--out", str(t / "x")],
        []), 2, "--methods is empty"),
    Case("xai eval --seed -1", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(w["data"]), *XAI, "--seed", "-1", "--out", str(t / "x")], []),
        2, "must be >= 0"),
    # --- tracebacks -> one line
    Case("bench parquet with text labels", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(_parquet(t / "pq")), *BENCH, "--out", str(t / "b")], []), 2,
        "do not match"),
    Case("bench corrupt parquet", lambda t, w: (
        "bench", [str(w["ck"]), "--data", str(_parquet(t / "pq", corrupt=True)), *BENCH, "--out", str(t / "b")], []),
        2, "Parquet magic bytes not found"),
    Case("xai eval parquet with text labels", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(_parquet(t / "pq")), *XAI, "--out", str(t / "x")], []), 2,
        "differ from the model's"),
    Case("xai eval corrupt parquet", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(_parquet(t / "pq", corrupt=True)), *XAI, "--out", str(t / "x")],
        []), 2, "Parquet magic bytes not found"),
    Case("xai eval corrupt image in the data folder", lambda t, w: (
        "xai", ["eval", str(w["ck"]), "--data", str(_broken_image_folder(t)), "--methods", "rollout", "--no-sanity",
                "--out", str(t / "x")], []), 2,
        "broken.png"),
    Case("predict --backend openvino on a garbage model", lambda t, w: (
        "runtime", ["predict", str(_for_openvino(w, t)), str(w["img"]), "--backend", "openvino",
                    "--out", str(t / "p")], []), 2, "Unable to read the model"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, world, tmp_path, monkeypatch, capsys):
    if "openvino" in case.name:
        pytest.importorskip("openvino")
    run_case(case, world, tmp_path, monkeypatch, capsys)
    assert _temporaries(tmp_path) == [], "no temporaries left"


def _temporaries(folder: Path) -> list[str]:
    """What a writer left beside its output, less the lock files (they stay: waiters share them)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


# ------------------------------------------------------------------ re-running into the same folder
def _run(cli: str, argv: list[str], capsys) -> tuple[int, str]:
    status = _main(cli)(argv)
    return status, capsys.readouterr().out


@pytest.mark.parametrize("cli, marker", [("bench", "results.json"), ("xai", "xai_results.json"),
                                         ("runtime", "predictions.json")])
def test_the_same_command_replaces_its_own_folder(world, tmp_path, monkeypatch, capsys, cli, marker):
    """Re-running a command into the folder it wrote works without a flag; the folder is replaced
    whole (nothing of the first run's is left), and never by another command."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    argv = {"bench": [str(world["ck"]), "--data", str(world["data"]), *BENCH, "--out", str(out)],
            "xai": ["eval", str(world["ck"]), "--data", str(world["data"]), *XAI, "--out", str(out)],
            "runtime": ["predict", str(world["onnx"]), str(world["img"]), "--out", str(out)]}
    assert _run(cli, argv[cli], capsys)[0] == 0
    assert json.loads((out / marker).read_text())["written_by"].startswith("python -m")
    (out / "left-over.png").write_bytes(b"from the first run")
    assert _run(cli, argv[cli], capsys)[0] == 0
    assert (out / marker).is_file() and not (out / "left-over.png").exists()
    assert _temporaries(tmp_path) == [], "no temporaries left beside it"
    other = next(c for c in argv if c != cli)
    assert _main(other)(argv[other]) == 2, "another command never replaces this one's folder"
    assert "is never replaced" in capsys.readouterr().err


def test_bench_keeps_its_exports_across_runs(world, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [str(world["ck"]), "--data", str(world["data"]), *BENCH, "--out", str(out)]
    assert _main("bench")(argv) == 0
    model = next((out / "artifacts").glob("*/model.onnx"))
    first = model.stat().st_mtime_ns
    assert _main("bench")(argv) == 0
    assert model.stat().st_mtime_ns == first, "the export of the run before is reused, not made again"
    data = bytearray(model.read_bytes())
    data[-32:] = bytes(32)  # someone with access to the results folder swaps the weights, same size
    model.write_bytes(bytes(data))
    assert _main("bench")(argv) == 0
    import runtime

    runtime.load(model.parent)  # exported again: its files are the sealed ones, not the swapped ones
    assert model.read_bytes() != bytes(data)


# ------------------------------------------------------------------ names are data
def _odd_images(world: dict, tmp: Path) -> list[str]:
    import shutil

    folder = tmp / "odd"
    folder.mkdir()
    paths = []
    for name in ODD.values():
        path = os.path.join(os.fsencode(folder), os.fsencode(name))
        shutil.copyfile(world["img"], path)
        paths.append(os.fsdecode(path))
    return paths


def test_odd_file_names_give_pictures_and_readable_rows(world, tmp_path, capsys):
    images = _odd_images(world, tmp_path)
    out = tmp_path / "p"
    assert _main("runtime")(["predict", str(world["onnx"]), *images, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert len(list(out.glob("*_explain.png"))) == len(ODD) == len(list(out.glob("*_probs.png")))
    assert all(p.name.isprintable() for p in out.iterdir()), "picture names: no newline, no undecodable bytes"
    rows = [line for line in printed.splitlines() if "%" in line]
    assert len(rows) == len(ODD), printed  # a newline in a name does not split its row
    printed.encode("utf-8")  # nothing undecodable reaches the terminal
    assert "\\xff\\xfe.png" in printed and "a\\nb.png" in printed
    saved = json.loads((out / "predictions.json").read_text())
    assert sorted(r["source"] for r in saved["rows"]) == sorted(images)


def test_odd_labels_give_pictures(tmp_path, world, capsys):
    labels = ["a$^$", "b\nc", "x" * 250, os.fsdecode(b"\xff")]
    ck = save_tiny_checkpoint(tmp_path / "ck", "vit", labels=labels)
    out = tmp_path / "p"
    assert _main("runtime")(["predict", str(ck), str(world["img"]), "--out", str(out)]) == 0
    assert len(list(out.glob("*_probs.png"))) == 1 and len(list(out.glob("*_explain.png"))) == 1
    capsys.readouterr().out.encode("utf-8")


def test_every_picture_draws_odd_names(tmp_path):
    """Each function that draws text, with every odd name where a name goes."""
    from bench.plots import plot_accuracy_vs_latency, plot_latency_breakdown
    from finetune.plots import plot_confusion_matrix, plot_training_curves
    from xai import plots

    names = [*ODD.values(), "a$^$"]
    n = len(names)
    image, heat = np.zeros((16, 16, 3), np.uint8), np.random.default_rng(0).random((16, 16))
    maps = {name: np.random.default_rng(0).random((1, 4, 4)) for name in names}
    curves = {name: {"deletion": [1.0, 0.5], "insertion": [0.1, 0.9]} for name in names}
    rows = [{"target": name, "backend": "onnx", "precision": "fp32", "explain": "rollout", "latency_ms_p50": 1.0 + i,
             "accuracy": 0.5} for i, name in enumerate(names)]
    drawn = [plot_confusion_matrix(np.eye(n, dtype=np.int64), names, tmp_path / "cm.png", title=names[1]),
             plot_training_curves([{"epoch": 1, "loss": 1.0}], tmp_path / "tc.png", title=names[1]),
             plots.plot_explanation(image, heat, tmp_path / "e.png", title=names[0], method=names[1]),
             plots.plot_probabilities(names, np.linspace(0, 1, n), tmp_path / "p.png", title=names[2]),
             plots.plot_comparison(image, [(name, name, 0.5, heat) for name in names], tmp_path / "c.png", names[3]),
             plots.plot_method_grid(image[None], maps, tmp_path / "g.png", title=names[1]),
             plots.plot_metric_curves(curves, tmp_path / "m.png", title=names[1]),
             plots.plot_cascade({name: [0.5, 0.2] for name in names}, names[:2], tmp_path / "k.png", title=names[1]),
             plot_accuracy_vs_latency(rows, tmp_path / "al.png", title=names[1]),
             plot_latency_breakdown(rows, tmp_path / "lb.png")]
    assert all(Path(p).is_file() for p in drawn)


# ------------------------------------------------------------------ images that are not files
def test_a_folder_or_a_fifo_given_as_an_image_says_what_it_is(world, tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    folder = tmp_path / "photos.png"
    folder.mkdir()
    status = _main("runtime")(["predict", str(world["onnx"]), str(folder), str(fifo), str(world["img"]),
                               "--out", str(tmp_path / "p")])
    printed = capsys.readouterr().out
    assert status == 1, "some images failed, others did not"
    assert "a folder, not an image file" in printed and "a named pipe (FIFO), not an image file" in printed


# ------------------------------------------------------------------ kills leave nothing in the temporary folder
def _killed(argv: list[str], tmp: Path, point: str | None = "written") -> subprocess.CompletedProcess:
    from _infra.folders import KILL_AT_ENV

    (tmp / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp / "tmp"), "PYTHONPATH": str(ROOT)}
    env.pop(KILL_AT_ENV, None)
    if point:
        env[KILL_AT_ENV] = point
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, cwd=tmp)


def test_a_killed_xai_eval_leaves_no_copy_in_the_temporary_folder(world, tmp_path):
    """The sanity check of an artifact exports a randomised copy: a kill during that export leaves it
    in the report's unfinished folder (removed by the next run), not in the system's temporary folder."""
    argv = ["-m", "xai", "eval", str(world["onnx"]), "--data", str(world["data"]), "--methods", "rollout",
            "--limit", "4", "--out", str(tmp_path / "x")]
    killed = _killed(argv, tmp_path)  # the first replace to finish is the randomised export's
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _folders(tmp_path / "tmp") == []
    done = _killed(argv, tmp_path, point=None)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _temporaries(tmp_path) == [] and _folders(tmp_path / "tmp") == []


def _folders(tmp: Path) -> list[Path]:
    """Folders in the temporary folder (libraries leave small files of their own there, e.g. `.ses`)."""
    return [p for p in tmp.iterdir() if p.is_dir()]


def test_a_killed_scenario_leaves_one_preset_copy_that_the_next_run_removes(tmp_path):
    code = ("import os, signal; from bench.scenarios._setup import preset_checkpoint; "
            "preset_checkpoint('demo'); os.kill(os.getpid(), signal.SIGKILL)")
    for _ in range(2):
        assert _killed(["-c", code], tmp_path, point=None).returncode == -signal.SIGKILL
    copies = [p for p in (tmp_path / "tmp").rglob("model.safetensors")]
    assert len(copies) == 1, copies
    done = _killed(["-c", "from bench.scenarios._setup import preset_checkpoint; preset_checkpoint('demo')"],
                   tmp_path, point=None)
    assert done.returncode == 0 and list((tmp_path / "tmp").rglob("model.safetensors")) == []
