"""A second round of hostile input, as someone with write access to a shared output folder (or a
careless colleague) tries it: planted links, files and manifests must never make the toolkit
write or delete outside what it owns, hang, or trust an artifact that is not what was exported.
Each row: what is planted -> exit status, the one line's fragment, the files that must survive."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LABELS
from test_reliability import FT, ROOT, Case, _copy_artifact, _edit_manifest, _main, _rehash, run_case, world  # noqa: F401

from runtime.manifest import MANIFEST, MAX_MANIFEST_BYTES
from _infra.folders import file_modes

HANG_LIMIT_S = 60  # a load that reads /dev/zero or waits on a FIFO never returns: the subprocess is killed


def _victim(t: Path) -> Path:
    (t / "elsewhere").mkdir(exist_ok=True)
    victim = t / "elsewhere" / "victim.txt"
    victim.write_text("precious")
    return victim


def _planted_lock(t: Path, out_name: str) -> Path:
    """`.OUT.lock` beside OUT, a link to a file the user cares about (folder_lock truncated it)."""
    (t / "shared").mkdir(exist_ok=True)
    victim = _victim(t)
    os.symlink(victim, t / "shared" / f".{out_name}.lock")
    return victim


def _export_onto_symlinked_out(t: Path, w: dict) -> tuple[str, list[str], list[Path]]:
    """--out a link to an artifact: replacing it used to replace the link and leave a `.link.old-*` link."""
    real = _copy_artifact(w, t)
    os.symlink(real, t / "link")
    return "export", ["onnx", str(w["ck"]), "--out", str(t / "link"), "--force"], [real / "model.onnx"]


def _model_as(w: dict, t: Path, make) -> Path:
    """The rollout artifact with model.onnx replaced by what `make(path)` puts there."""
    folder = _copy_artifact(w, t)
    (folder / "model.onnx").unlink()
    make(folder / "model.onnx")
    return folder


def _link_to_copy_outside(w: dict, t: Path) -> Path:
    """model.onnx a link to an identical copy outside the folder: the hashes match, the file is not its own."""
    outside = t / "elsewhere.onnx"
    shutil.copy(w["onnx"] / "model.onnx", outside)
    return _model_as(w, t, lambda p: os.symlink(outside, p))


def _mlpackage_weight_outside(w: dict, t: Path) -> Path:
    folder = _copy_artifact(w, t, "coreml")
    weight = next((folder / "model.mlpackage").rglob("weight.bin"))
    shutil.move(weight, t / "weight.bin")
    os.symlink(t / "weight.bin", weight)
    return folder


def _nested(folder: Path, depth: int = 100_000) -> Path:
    (folder / MANIFEST).write_text("[" * depth + "]" * depth)
    return folder


def _oversized(folder: Path) -> Path:
    raw = json.loads((folder / MANIFEST).read_text())
    raw["versions"]["padding"] = "x" * (MAX_MANIFEST_BYTES + 1)
    (folder / MANIFEST).write_text(json.dumps(raw))
    return folder


def _predict(folder: Path, w: dict, t: Path) -> tuple[str, list[str], list[Path]]:
    return "runtime", ["predict", str(folder), str(w["img"]), "--out", str(t / "p")], []


def _edited(w: dict, t: Path, **changes) -> tuple[str, list[str], list[Path]]:
    return _predict(_edit_manifest(_copy_artifact(w, t), **changes), w, t)


NAN = float("nan")
CASES = [
    # --- never write through a planted link
    Case("export: .OUT.lock planted as a link", lambda t, w: (
        "export", ["onnx", str(w["ck"]), "--out", str(t / "shared" / "art")], [_planted_lock(t, "art")]), 2,
        "is a symbolic link"),
    Case("finetune: .OUT.lock planted as a link", lambda t, w: (
        "finetune", [*FT, "--data", "digits", "--out", str(t / "shared" / "run")], [_planted_lock(t, "run")]), 2,
        "is a symbolic link"),
    Case("export --force onto a symlinked --out", lambda t, w: _export_onto_symlinked_out(t, w), 2,
         "is a symbolic link"),
    # --- an artifact is one sealed thing
    Case("predict: model.onnx a link to a copy outside", lambda t, w: _predict(_link_to_copy_outside(w, t), w, t), 2,
         "is a symbolic link"),
    Case("predict: .mlpackage weight.bin a link outside", lambda t, w: _predict(_mlpackage_weight_outside(w, t), w, t),
         2, "is a symbolic link"),
    Case("predict: manifest.json a link", lambda t, w: _predict(_manifest_linked(_copy_artifact(w, t)), w, t), 2,
         "manifest is a regular file"),
    Case("predict: NaN mean", lambda t, w: _edited(w, t, **{"preprocessing.mean": [NAN, 0.5, 0.5]}), 2,
         "preprocessing.mean must be three finite numbers"),
    Case("predict: text std", lambda t, w: _edited(w, t, **{"preprocessing.std": ["a", "b", "c"]}), 2,
         "preprocessing.std must be three finite numbers > 0"),
    Case("predict: duplicate labels", lambda t, w: _edited(w, t, labels=[LABELS[0]] * 2 + LABELS[2:]), 2,
         "labels must be unique"),
    Case("predict: precision that disagrees with the graph", lambda t, w: _edited(w, t, precision="int8"), 2,
         "manifest says precision 'int8' but the model was exported with 'fp32'"),
    Case("predict: wrong input.name", lambda t, w: _edited(w, t, **{"input.name": "pixels"}), 2,
         "model inputs ['image'] but the manifest declares ['pixels']"),
    Case("predict: wrong input.dtype", lambda t, w: _edited(w, t, **{"input.dtype": "float32"}), 2,
         "input dtype/layout 'float32'/'NHWC'"),
    Case("predict: wrong input.layout", lambda t, w: _edited(w, t, **{"input.layout": "NCHW"}), 2,
         "input dtype/layout 'uint8'/'NCHW'"),
    Case("predict: n_special_tokens 5", lambda t, w: _edited(w, t, n_special_tokens=5), 2, "n_special_tokens 5"),
    Case("predict: batch -3", lambda t, w: _edited(w, t, **{"input.shape": [-3, 32, 32, 3]}), 2,
         "input batch -3 must be a positive integer"),
    Case("predict: invented class_input", lambda t, w: _edited(w, t, class_input={
        "name": "target", "dtype": "int64", "shape": [None], "predicted": -1}), 2,
        "class_input given for explain 'rollout'"),
    Case("predict: manifest over the size cap", lambda t, w: _predict(_oversized(_copy_artifact(w, t)), w, t), 2,
         "not a manifest this toolkit wrote"),
    Case("predict: manifest nested 100,000 deep", lambda t, w: _predict(_nested(_copy_artifact(w, t)), w, t), 2,
         "nested too deeply"),
    # --- one line, exit 2
    Case("finetune --seed -1", lambda t, w: ("finetune", [*FT, "--data", "digits", "--out", str(t / "r"), "--seed", "-1"],
                                             []), 2, "--seed must be in 0..2**32-1"),
    Case("finetune corrupt parquet", lambda t, w: ("finetune", [*FT, "--data", str(_corrupt_parquet(t)), "--out",
                                                                str(t / "r")], []), 2, "cannot read its parquet shards"),
]


def _manifest_linked(folder: Path) -> Path:
    """manifest.json replaced by a link to a copy of itself elsewhere."""
    outside = folder.parent / "manifest-elsewhere.json"
    shutil.copy(folder / MANIFEST, outside)
    (folder / MANIFEST).unlink()
    os.symlink(outside, folder / MANIFEST)
    return folder


def _corrupt_parquet(t: Path) -> Path:
    root = t / "pq"
    root.mkdir()
    for split in ("train", "test"):
        (root / f"{split}-00000-of-00001.parquet").write_bytes(b"PAR1 not really a parquet file")
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, world, tmp_path, monkeypatch, capsys):  # noqa: F811
    run_case(case, world, tmp_path, monkeypatch, capsys)


def test_manifest_problems_are_listed_at_once(world, tmp_path):  # noqa: F811
    from runtime.manifest import ManifestError, read_manifest

    folder = _edit_manifest(_copy_artifact(world, tmp_path), n_special_tokens=5, labels=["a", "a"],
                            **{"preprocessing.std": [0, 1, 1], "input.shape": [-3, 32, 32, 3]})
    with pytest.raises(ManifestError) as e:
        read_manifest(folder)
    assert all(f in str(e.value) for f in ("n_special_tokens 5", "unique", "std", "batch -3"))


# ---------------------------------------------------------------------------------- never hang, never tell
@pytest.mark.parametrize("make", ["dev-zero", "fifo"])
def test_a_model_file_that_never_ends_is_refused_at_once(world, tmp_path, make):  # noqa: F811
    folder = _model_as(world, tmp_path, (lambda p: os.symlink("/dev/zero", p)) if make == "dev-zero" else os.mkfifo)
    try:
        proc = subprocess.run([sys.executable, "-m", "runtime", "predict", str(folder), str(world["img"]), "--out",
                               str(tmp_path / "p")], capture_output=True, text=True, cwd=ROOT, timeout=HANG_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading an artifact whose model file is {make} hung for {HANG_LIMIT_S} s")
    assert proc.returncode == 2 and ("symbolic link" if make == "dev-zero" else "a FIFO") in proc.stderr, proc.stderr


def test_a_link_to_a_file_outside_never_prints_its_hash(world, tmp_path, capsys):  # noqa: F811
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    folder = _model_as(world, tmp_path, lambda p: os.symlink(secret, p))
    assert _main("runtime")(["predict", str(folder), str(world["img"]), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert "symbolic link" in err and not any(digest[i:i + 8] in err for i in range(0, 57, 8))


def test_external_data_is_sealed_with_the_graph(world, tmp_path):  # noqa: F811
    """An ONNX graph with its weights in a separate file (what graphs over 2 GB need): that file is
    recorded too, and swapping its bytes is refused instead of changing the predictions."""
    import numpy as np
    import onnx

    import runtime

    folder = _copy_artifact(world, tmp_path)
    model = onnx.load(str(folder / "model.onnx"))
    onnx.save(model, str(folder / "model.onnx"), save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    _rehash(folder)
    assert set(json.loads((folder / MANIFEST).read_text())["files"]) == {"model.onnx", "weights.bin"}
    expected = runtime.load(world["onnx"]).predict(world["img"]).probs
    np.testing.assert_allclose(runtime.load(folder).predict(world["img"]).probs, expected, atol=1e-6)
    data = bytearray((folder / "weights.bin").read_bytes())
    data[-64:] = bytes(64)  # same size, other weights
    (folder / "weights.bin").write_bytes(bytes(data))
    with pytest.raises(runtime.manifest.ArtifactError, match="weights.bin differs from the file exported"):
        runtime.load(folder)


def test_nothing_unrecorded_inside_a_model_package(world, tmp_path):  # noqa: F811
    import runtime

    folder = _copy_artifact(world, tmp_path, "coreml")
    (folder / "model.mlpackage" / "Data" / "extra.bin").write_bytes(b"\0" * 8)
    with pytest.raises(runtime.manifest.ArtifactError, match="extra.bin is not part of the exported model"):
        runtime.load(folder)


# ---------------------------------------------------------------------------------- own what we write
def test_recover_never_restores_or_follows_a_planted_link(world, tmp_path):  # noqa: F811
    from _infra.folders import folder_lock, recover

    theirs = _copy_artifact(world, tmp_path)
    os.symlink(theirs, tmp_path / ".art.old-1-planted")
    os.symlink(theirs, tmp_path / ".art.partial-planted")
    with folder_lock(tmp_path / "art"):
        recover(tmp_path / "art")
    assert not os.path.lexists(tmp_path / "art"), "a link is never put in place of the output"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".art.lock", "copy-onnx"], "planted links are unlinked"
    assert (theirs / "model.onnx").is_file() and (theirs / MANIFEST).is_file(), "their targets are untouched"


def test_outputs_are_readable_like_any_file(world):  # noqa: F811
    """coremltools writes 0600 files and 0700 folders inside a package: an artifact is read by others."""
    dir_mode, file_mode = file_modes()  # what a plain mkdir / open gives under this umask
    for folder in (world["coreml"], world["onnx"]):
        for path in [folder, *folder.rglob("*")]:
            assert path.stat().st_mode & 0o777 == (dir_mode if path.is_dir() else file_mode), path


def _immutable(folder: Path) -> bool:
    return subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0


@pytest.mark.parametrize("cli", ["export", "finetune"])
def test_an_unwritable_parent_is_one_line(world, tmp_path, cli, capsys):  # noqa: F811
    parent = tmp_path / "locked"
    parent.mkdir()
    if not _immutable(parent):  # root writes through plain permissions: only an immutable folder refuses it
        pytest.skip("chattr +i is not supported on this file system")
    try:
        argv = (["onnx", str(world["ck"])] if cli == "export" else [*FT, "--data", "digits"]) + [
            "--out", str(parent / "out")]
        status = _main(cli)(argv)
    finally:
        subprocess.run(["chattr", "-i", str(parent)], check=True)
    err = capsys.readouterr().err
    assert status == 2 and "cannot write" in err and "Traceback" not in err, err[-2000:]


# ---------------------------------------------------------------------------------- finetune
def _run(out: Path, *extra: str, callbacks=()) -> object:
    from finetune import FinetuneConfig
    from finetune.__main__ import build_parser
    from finetune.train import finetune

    argv = [*FT, "--data", "digits", "--out", str(out), "--limit-train", "16", "--batch-size", "8", *extra]
    args = vars(build_parser().parse_args(argv))
    args.pop("verbose")
    return finetune(FinetuneConfig(**args), callbacks=callbacks)


def test_overwrite_never_trains_into_a_planted_partial_folder(tmp_path):
    out = tmp_path / "run"
    assert _run(out).metrics
    theirs = tmp_path / "theirs"
    (theirs / "checkpoints" / "checkpoint-7").mkdir(parents=True)
    (theirs / "checkpoints" / "checkpoint-7" / "notes.txt").write_text("theirs")
    for name in (".run.partial-train", ".run.partial-train-abcd1234", ".run.partial-1-abcd"):
        os.symlink(theirs, tmp_path / name)
    _run(out, "--overwrite", "--seed", "1")
    assert (theirs / "checkpoints" / "checkpoint-7" / "notes.txt").read_text() == "theirs"
    assert sorted(p.name for p in theirs.rglob("*")) == ["checkpoint-7", "checkpoints", "notes.txt"]
    assert not out.is_symlink() and (out / "metrics.json").is_file()


def test_a_link_inside_a_run_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"status": "started"}))
    victim = _victim(tmp_path)
    (out / "checkpoints").mkdir()
    os.symlink(victim.parent, out / "checkpoints" / "checkpoint-3")  # "incomplete": would be removed
    argv = [*FT, "--data", "digits", "--out", str(out)]
    assert _main("finetune")(argv) == 2
    assert "is a symbolic link" in capsys.readouterr().err and victim.read_text() == "precious"


def _ctrl_c_after(step: int):
    """A TrainerCallback that presses Ctrl-C once `step` optimizer steps are done."""
    from transformers import TrainerCallback

    class CtrlC(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                raise KeyboardInterrupt

    return CtrlC()


def test_ctrl_c_during_overwrite_names_the_run_and_a_command_that_resumes_it(tmp_path):
    from finetune._safe_trainer import last_complete_checkpoint
    from finetune.outputs import interrupted_advice
    from finetune.train import RunInterrupted

    out = tmp_path / "run"
    _run(out, "--max-steps", "3", "--save-steps", "1")
    old = (out / "model.safetensors").read_bytes()
    with pytest.raises(RunInterrupted) as e:
        _run(out, "--max-steps", "3", "--save-steps", "1", "--overwrite", "--seed", "1", callbacks=[_ctrl_c_after(2)])
    plan = e.value.plan
    advice = interrupted_advice(plan, "python -m finetune --out run --overwrite")
    assert plan.work != out and str(plan.work) in advice and "checkpoint-1" in advice
    assert advice.endswith("python -m finetune --out run --overwrite --resume")
    assert (out / "model.safetensors").read_bytes() == old, "the old run stays until the new one finished"
    assert last_complete_checkpoint(out / "checkpoints").name == "checkpoint-3"
    result = _run(out, "--max-steps", "3", "--save-steps", "1", "--overwrite", "--seed", "1", "--resume")
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from"] == str(plan.work / "checkpoints" / "checkpoint-1"), "the interrupted run, not the old one"
    assert result.out == out and (out / "model.safetensors").read_bytes() != old
    assert not plan.work.exists() and (out / "model.safetensors").stat().st_mode & 0o777 == file_modes()[1]


def test_a_full_disk_is_one_line_and_says_what_is_kept(tmp_path):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # the demo model is ~330 kB

    argv = [sys.executable, "-m", "finetune", *FT, "--data", "digits", "--out", str(tmp_path / "r"), "--save-steps", "1"]
    proc = subprocess.run(argv, preexec_fn=small_files, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "a file grew past the size limit; no complete checkpoint was written" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_text_labels_in_parquet_are_class_names(tmp_path):
    import io

    from datasets import Dataset, Features, Image as ImageFeature, Value
    from PIL import Image

    root = tmp_path / "pq"
    root.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="PNG")
    features = Features({"img": ImageFeature(), "label": Value("string")})
    for split, labels in (("train", ["dog", "cat", "dog", "cat"]), ("test", ["cat", "bird"])):
        Dataset.from_dict({"img": [{"bytes": buf.getvalue(), "path": None}] * len(labels), "label": labels},
                          features=features).to_parquet(str(root / f"{split}-00000-of-00001.parquet"))
    from finetune.data import load_data

    data = load_data(str(root))
    assert data.labels == ["bird", "cat", "dog"] and list(data.train.targets) == [2, 1, 2, 1]
    assert data.test[1][1] == 0


def test_a_remembered_verification_still_sees_a_rewritten_file(world, tmp_path):  # noqa: F811
    """A file once hashed is not hashed again while its identity holds; rewriting it in place with
    the same size and its old modification time still moves its status-change time."""
    import runtime

    folder = _copy_artifact(world, tmp_path)
    runtime.load(folder)  # hashed once, remembered
    model = folder / "model.onnx"
    st = model.stat()
    data = bytearray(model.read_bytes())
    data[-16:] = bytes(16)
    model.write_bytes(bytes(data))
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(runtime.manifest.ArtifactError, match="SHA-256 mismatch"):
        runtime.load(folder)


@pytest.mark.parametrize("cli", ["export", "runtime"])
def test_a_planted_fifo_as_our_marker_never_stalls_a_replace(world, tmp_path, cli):  # noqa: F811
    """The file that says a folder is ours (manifest.json, predictions.json) is read bounded, never
    from a FIFO or device: the folder is then simply not ours."""
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / ("manifest.json" if cli == "export" else "predictions.json"))
    argv = (["export", "onnx", str(world["ck"]), "--force"] if cli == "export" else
            ["runtime", "predict", str(world["onnx"]), str(world["img"])]) + ["--out", str(out)]
    try:
        proc = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT,
                              timeout=HANG_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cli} hung on a FIFO planted as its marker file")
    assert proc.returncode == 2 and "never replaced" in proc.stderr, proc.stderr[-2000:]
