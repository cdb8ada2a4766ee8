"""What a hostile or careless user does, as a table: input -> exit status, message, and what must
still exist afterwards. Plus real kills (SIGKILL in a subprocess) at each step of a replace."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from conftest import LABELS, save_tiny_checkpoint, write_image_folder

from export import ExportConfig, export_model
from runtime.manifest import MANIFEST, SCHEMA_VERSION, ManifestError, read_manifest
from _infra.folders import KILL_AT_ENV, folder_lock, recover

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path, dict], tuple[str, list[str], list[Path]]]  # -> (cli, argv, paths that must survive)
    status: int
    fragment: str


def _main(cli: str):
    import importlib

    return importlib.import_module(f"{cli}.__main__").main


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A checkpoint, its ONNX artifacts (rollout, none), a Core ML artifact and test images."""
    from PIL import Image

    root = tmp_path_factory.mktemp("reliability")
    ck = save_tiny_checkpoint(root / "ck", "vit")
    w = {"root": root, "ck": ck}
    for name, cfg in {"onnx": ExportConfig(), "none": ExportConfig(explain="none"),
                      "coreml": ExportConfig(format="coreml", parity_images=1)}.items():
        export_model(ck, root / name, cfg)
        w[name] = root / name
    w["img"] = root / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(w["img"])
    return w


def _user_folder(tmp: Path, name: str = "mine") -> Path:
    folder = tmp / name
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    return folder


def _copy_artifact(w: dict, tmp: Path, name: str = "onnx") -> Path:
    return Path(shutil.copytree(w[name], tmp / f"copy-{name}"))


def _edit_manifest(folder: Path, **changes) -> Path:
    raw = json.loads((folder / MANIFEST).read_text())
    for key, value in changes.items():
        target = raw
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value
    (folder / MANIFEST).write_text(json.dumps(raw))
    return folder


def _rehash(folder: Path) -> Path:
    from runtime.manifest import seal_model

    raw = json.loads((folder / MANIFEST).read_text())
    raw["files"] = seal_model(folder, raw["model_file"])
    (folder / MANIFEST).write_text(json.dumps(raw))
    return folder


def _checkpoint_copy(w: dict, tmp: Path, edit: Callable[[Path], None]) -> Path:
    folder = Path(shutil.copytree(w["ck"], tmp / "ck-edited"))
    edit(folder)
    return folder


def _id2label(folder: Path, mapping: dict) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = mapping
    config["label2id"] = {v: int(k) for k, v in mapping.items()}
    (folder / "config.json").write_text(json.dumps(config))


def _only_pickle(folder: Path) -> None:
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")


def _parquet_with_int_labels(root: Path, train_labels, test_labels) -> Path:
    """Parquet shards whose labels are plain integers (no class names), as many user sets are."""
    import io

    from datasets import Dataset, Features, Image as ImageFeature, Value
    from PIL import Image

    root.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="PNG")
    features = Features({"img": ImageFeature(), "label": Value("int64")})
    for split, labels in (("train", train_labels), ("test", test_labels)):
        images = [{"bytes": buf.getvalue(), "path": None}] * len(labels)
        Dataset.from_dict({"img": images, "label": list(labels)}, features=features).to_parquet(
            str(root / f"{split}-00000-of-00001.parquet"))
    return root


def _corrupt_folder(tmp: Path) -> Path:
    root = write_image_folder(tmp / "imgs", per_class=3)
    (root / LABELS[1] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


FT = ["--model", "demo", "--max-steps", "1", "--batch-size", "4", "--no-progress", "--limit-test", "8"]

CASES = [
    # --- replace, never destroy
    Case("export --out . --force", lambda t, w: ("export", ["onnx", str(w["ck"]), "--out", ".", "--force"],
                                                 [_user_folder(t) / "thesis.txt"]), 2, "current folder"),
    Case("export --out SOURCE --force", lambda t, w: ("export", ["onnx", str(w["ck"]), "--out", str(w["ck"]), "--force"],
                                                      [w["ck"] / "model.safetensors"]), 2, "is the source"),
    Case("export --out PARENT-OF-SOURCE --force", lambda t, w: (
        "export", ["onnx", str(w["ck"]), "--out", str(w["root"]), "--force"], [w["ck"] / "model.safetensors"]),
        2, "parent"),
    Case("export --force onto a user's folder", lambda t, w: (
        "export", ["onnx", str(w["ck"]), "--out", str(_user_folder(t)), "--force"], [t / "mine" / "thesis.txt"]),
        2, "not an export artifact"),
    Case("export --out FILE", lambda t, w: ("export", ["onnx", str(w["ck"]), "--out", str(w["img"])], [w["img"]]),
         2, "is a file"),
    Case("finetune --out . --overwrite", lambda t, w: ("finetune", [*FT, "--data", "digits", "--out", ".", "--overwrite"],
                                                       [_user_folder(t) / "thesis.txt"]), 2, "current folder"),
    Case("finetune --overwrite onto a user's folder", lambda t, w: (
        "finetune", [*FT, "--data", "digits", "--out", str(_user_folder(t)), "--overwrite"],
        [t / "mine" / "thesis.txt"]), 2, "did not write"),
    # --- validate up front
    Case("finetune --lr nan", lambda t, w: ("finetune", [*FT, "--data", "digits", "--out", str(t / "r"), "--lr", "nan"], []),
         2, "--lr must be a finite number"),
    Case("finetune --epochs nan", lambda t, w: ("finetune", [*FT, "--data", "digits", "--out", str(t / "r"),
                                                             "--epochs", "nan"], []), 2, "--epochs must be a finite"),
    Case("finetune labels of -1", lambda t, w: (
        "finetune", [*FT, "--data", str(_parquet_with_int_labels(t / "pq", [0, 1, -1, 1], [0, 1])), "--out", str(t / "r")],
        []), 2, "labels outside 0..1"),
    Case("finetune one class", lambda t, w: (
        "finetune", [*FT, "--data", str(write_image_folder(t / "one", labels=["cat"], per_class=4)), "--out",
                     str(t / "r")], []), 2, "at least two"),
    Case("finetune corrupt image in a folder", lambda t, w: (
        "finetune", [*FT, "--data", str(_corrupt_folder(t)), "--out", str(t / "r")], []), 2, "broken.png"),
    # --- tracebacks -> one line
    Case("export truncated safetensors", lambda t, w: ("export", ["onnx", str(_checkpoint_copy(
        w, t, lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:100]))),
        "--out", str(t / "o")], []), 2, "truncated or not a safetensors file"),
    Case("export without preprocessor_config.json", lambda t, w: ("export", ["onnx", str(_checkpoint_copy(
        w, t, lambda f: (f / "preprocessor_config.json").unlink())), "--out", str(t / "o")], []), 2,
        "no preprocessor_config.json"),
    Case("export id2label with gaps", lambda t, w: ("export", ["onnx", str(_checkpoint_copy(
        w, t, lambda f: _id2label(f, {"0": "a", "1": "b", "2": "c", "7": "d"}))), "--out", str(t / "o")], []), 2,
        "without gaps"),
    Case("export id2label count != head", lambda t, w: ("export", ["onnx", str(_checkpoint_copy(
        w, t, lambda f: _id2label(f, {"0": "a", "1": "b", "2": "c"}))), "--out", str(t / "o")], []), 2,
        "classifier has 4 outputs but id2label names 3"),
    Case("export only pytorch_model.bin", lambda t, w: ("export", ["onnx", str(_checkpoint_copy(w, t, _only_pickle)),
                                                                   "--out", str(t / "o")], []), 2, "only pickle weights"),
    Case("predict --top-k 0", lambda t, w: ("runtime", ["predict", str(w["onnx"]), str(w["img"]), "--top-k", "0",
                                                        "--out", str(t / "p")], []), 2, "must be >= 1"),
    Case("predict --top-k -2", lambda t, w: ("runtime", ["predict", str(w["onnx"]), str(w["img"]), "--top-k", "-2",
                                                         "--out", str(t / "p")], []), 2, "must be >= 1"),
    Case("predict --out FILE", lambda t, w: ("runtime", ["predict", str(w["onnx"]), str(w["img"]), "--out",
                                                         str(w["img"])], [w["img"]]), 2, "is a file"),
    Case("compare with an --explain none artifact", lambda t, w: (
        "runtime", ["compare", str(w["onnx"]), str(w["none"]), str(w["img"]), "--out", str(t / "c")], []), 2,
        "explain none"),
    Case("predict: manifest model_file outside the folder", lambda t, w: (
        "runtime", ["predict", str(_edit_manifest(_copy_artifact(w, t), model_file=str(w["onnx"] / "model.onnx"))),
                    str(w["img"]), "--out", str(t / "p")], []), 2, "plain file name"),
    Case("predict: manifest format tflite", lambda t, w: (
        "runtime", ["predict", str(_edit_manifest(_copy_artifact(w, t), format="tflite", explain="magic")),
                    str(w["img"]), "--out", str(t / "p")], []), 2, "explain 'magic'"),
    Case("predict: swapped model file", lambda t, w: (
        "runtime", ["predict", str(_swap_model(w, t)), str(w["img"]), "--out", str(t / "p")], []), 2,
        "changed after export"),
    Case("predict: garbage model.onnx", lambda t, w: (
        "runtime", ["predict", str(_garbage(_copy_artifact(w, t), "model.onnx")), str(w["img"]), "--out",
                    str(t / "p")], []), 2, "the onnx backend cannot load it"),
    Case("predict: manifest input size disagrees", lambda t, w: (
        "runtime", ["predict", str(_edit_manifest(_copy_artifact(w, t), **{"preprocessing.resize": [64, 64],
                                                                           "input.shape": [None, 64, 64, 3]})),
                    str(w["img"]), "--out", str(t / "p")], []), 2, "but the manifest resizes to [64, 64]"),
    Case("predict: Core ML package missing its weights", lambda t, w: (
        "runtime", ["predict", str(_rehash(_drop_weights(_copy_artifact(w, t, "coreml")))), str(w["img"]),
                    "--out", str(t / "p")], []), 2, "cannot load it"),
    Case("xai eval --backend tensorrt", lambda t, w: ("xai", ["eval", str(w["onnx"]), "--backend", "tensorrt",
                                                              "--out", str(t / "x")], []), 2, "unknown backend"),
    Case("xai eval missing data folder", lambda t, w: ("xai", ["eval", str(w["ck"]), "--data", str(t / "no-such"),
                                                               "--out", str(t / "x")], []), 2, "does not exist"),
    Case("bench missing data folder", lambda t, w: ("bench", [str(w["ck"]), "--data", str(t / "no-such"),
                                                              "--out", str(t / "b")], []), 2, "does not exist"),
    Case("bench --batch 0", lambda t, w: ("bench", [str(w["ck"]), "--data", str(write_image_folder(t / "d", per_class=2)),
                                                    "--batch", "0", "--targets", "onnx fp32", "--no-memory",
                                                    "--out", str(t / "b")], []), 2, "--batch must be >= 1"),
]


def _swap_model(w: dict, tmp: Path) -> Path:
    """The rollout artifact with the `none` artifact's ONNX file in place of its own."""
    folder = _copy_artifact(w, tmp)
    shutil.copy(w["none"] / "model.onnx", folder / "model.onnx")
    return folder


def _garbage(folder: Path, name: str) -> Path:
    (folder / name).write_bytes(os.urandom(4096))
    return _rehash(folder)


def _drop_weights(folder: Path) -> Path:
    for weights in (folder / "model.mlpackage").rglob("weight.bin"):
        weights.unlink()
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, world, tmp_path, monkeypatch, capsys):
    run_case(case, world, tmp_path, monkeypatch, capsys)


def run_case(case: Case, world: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    """A row of a case table: set it up in `tmp_path` (the current folder), run its CLI, check the
    exit status, the one line and the files that must survive unchanged."""
    monkeypatch.chdir(tmp_path)
    cli, argv, survivors = case.setup(tmp_path, world)
    before = {p: p.read_bytes() for p in survivors}
    try:
        status = _main(cli)(argv)
    except SystemExit as e:  # argparse's own refusals
        status = e.code
    err = capsys.readouterr().err
    assert status == case.status, err[-2000:]
    assert case.fragment in err, err[-2000:]
    assert "Traceback" not in err and len([line for line in err.splitlines() if line.startswith("error")]) <= 1
    for path, content in before.items():
        assert path.is_file() and path.read_bytes() == content, f"{path} was lost or changed"


def test_concurrent_writer_fails_clearly_and_the_other_wins(world, tmp_path, capsys):
    out = tmp_path / "artifact"
    with folder_lock(out):  # another export holds the folder
        status = _main("export")(["onnx", str(world["ck"]), "--out", str(out)])
    assert status == 2 and "another process" in capsys.readouterr().err
    assert not out.exists()
    assert _main("export")(["onnx", str(world["ck"]), "--out", str(out)]) == 0


def test_artifacts_are_readable_like_any_output(world):
    for name in ("onnx", "coreml"):
        assert world[name].stat().st_mode & 0o055 == 0o055, "group/other read and search bits"


def test_decompression_bomb_and_oversized_images_fail_alone(world, tmp_path):
    from PIL import Image

    import runtime
    from runtime.images import MAX_SIDE

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 megapixels in a few hundred KB
    big = tmp_path / "big.png"
    Image.new("1", (9500, 9500), 1).save(big)  # 90 megapixels: under the limit, reduced for display
    prediction = runtime.load(world["onnx"]).predict([bomb, world["img"], big])
    assert [s for s, _ in prediction.errors] == [str(bomb)] and "pixels" in prediction.errors[0][1]
    assert len(prediction.probs) == 3 and prediction.predicted == [1, 2]  # one entry per input, in order
    assert np.isnan(prediction.probs[0]).all() and not np.isnan(prediction.probs[1:]).any()
    assert prediction.heatmaps_full[2].shape == (MAX_SIDE, MAX_SIDE) == prediction.images[2].size


def test_long_file_names_make_pictures(world, tmp_path):
    long = tmp_path / ("x" * 250 + ".png")
    shutil.copy(world["img"], long)
    assert _main("runtime")(["predict", str(world["onnx"]), str(long), "--out", str(tmp_path / "p")]) == 0
    assert len(list((tmp_path / "p").glob("*_explain.png"))) == 1


def test_manifest_lists_every_problem_at_once(world, tmp_path):
    folder = _edit_manifest(_copy_artifact(world, tmp_path), model_file="../../etc/passwd", precision="fp64",
                            **{"preprocessing.resample": "magic"}, schema_version=SCHEMA_VERSION)
    with pytest.raises(ManifestError) as e:
        read_manifest(folder)
    assert all(s in str(e.value) for s in ("plain file name", "precision 'fp64'", "resample 'magic'"))
    old = _edit_manifest(_copy_artifact(world, tmp_path, "none"), schema_version=2)
    with pytest.raises(ManifestError, match="re-export"):
        read_manifest(old)


def test_bench_exit_status_tells_the_truth():
    from bench.__main__ import exit_status

    failed = [{"target": "onnx fp32", "status": "failed: ValueError: x"}]
    assert exit_status(failed, None, keep_going=False) == 1
    assert exit_status(failed, None, keep_going=True) == 0
    assert exit_status(failed, 0.5, keep_going=True) == 1, "--min-accuracy with no accuracy at all is a failure"
    ok = [{"target": "onnx fp32", "status": "works", "accuracy": 0.4}]
    assert exit_status(ok, 0.5, keep_going=False) == 1 and exit_status(ok, 0.3, keep_going=False) == 0


def test_labels_are_the_union_of_splits(tmp_path):
    from finetune.data import load_data

    data = load_data(str(_parquet_with_int_labels(tmp_path / "pq", [0, 1, 2, 2], [0, 1])))
    assert data.labels == ["0", "1", "2"]
    data.check(verify_images=True, progress=False)


# ---------------------------------------------------------------------------------- finetune state
def _train(out: Path, **kw) -> int:
    argv = [*FT, "--data", "digits", "--out", str(out), "--limit-train", "16", "--batch-size", "8"]
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return _main("finetune")(argv)


def test_a_crashed_run_never_blocks_a_rerun(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints" / "checkpoint-1").mkdir(parents=True)  # a crash before the first save finished
    (out / "run.json").write_text(json.dumps({"status": "started"}))
    assert _train(out) == 0
    assert (out / "metrics.json").is_file()


def test_resume_falls_back_past_corrupt_state_and_refuses_pickles(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, max_steps=2, save_steps=1) == 0
    ckpts = out / "checkpoints"
    (out / "metrics.json").unlink()  # as if killed before the end
    (ckpts / "checkpoint-2" / "trainer_state.json").write_text("")  # killed while writing it
    from finetune._safe_trainer import last_complete_checkpoint

    assert last_complete_checkpoint(ckpts).name == "checkpoint-1"
    assert _train(out, max_steps=2, save_steps=1, resume=True) == 0
    assert json.loads((out / "run.json").read_text())["resumed_from"].endswith("checkpoint-1")
    (out / "metrics.json").unlink()
    newest = last_complete_checkpoint(ckpts)
    (newest / "optimizer.pt").write_bytes(b"pickle payload")
    capsys.readouterr()
    assert _train(out, max_steps=2, save_steps=1, resume=True) == 2
    assert "pickle files (optimizer.pt)" in capsys.readouterr().err


def test_overwrite_keeps_the_old_run_until_the_new_one_finished(tmp_path):
    out = tmp_path / "run"
    assert _train(out) == 0
    old = (out / "model.safetensors").read_bytes()
    argv = [sys.executable, "-m", "finetune", *FT, "--data", "digits", "--out", str(out), "--limit-train", "16",
            "--batch-size", "8", "--overwrite", "--seed", "1"]
    env = {**os.environ, KILL_AT_ENV: "moved-aside", "PYTHONPATH": str(ROOT)}
    killed = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with folder_lock(out):  # what the next run does first
        recover(out)
    assert (out / "model.safetensors").read_bytes() == old, "a killed --overwrite must leave the old run whole"
    assert _train(out, overwrite=True, seed=1) == 0
    assert (out / "model.safetensors").read_bytes() != old
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock", "run"], "no temporaries left beside it"


# ---------------------------------------------------------------------------------- real kills
@pytest.mark.parametrize("point, survivor", [("written", "none"), ("moved-aside", "none"), ("swapped-in", "rollout")])
def test_a_killed_replace_leaves_one_artifact_whole(world, tmp_path, point, survivor):
    out = tmp_path / "artifact"
    shutil.copytree(world["none"], out)
    env = {**os.environ, KILL_AT_ENV: point, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-m", "export", "onnx", str(world["ck"]), "--out", str(out), "--force"],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with folder_lock(out):  # what the next writer does first
        recover(out)
    assert read_manifest(out).explain == survivor
    assert sorted(p.name for p in tmp_path.iterdir()) == [".artifact.lock", "artifact"], "stale temporaries are removed"
    import runtime

    assert runtime.load(out).predict(world["img"]).probs.shape == (1, len(LABELS))
