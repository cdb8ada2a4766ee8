"""Hub in and out without a network: `export push`'s files laid out as huggingface_hub's cache lays
out a download (blobs, snapshots of links, refs/main) and read back by `runtime.load("org/name")`
through huggingface_hub's own snapshot_download in offline mode; the card; the hub probe through
huggingface_hub's session and the user's proxy. Upload itself is not exercised here."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from export import ExportConfig, export_model
from export.push import CARD, PushConfig, push, repo_files
from runtime import ArtifactError, load
from runtime.card import PICTURE, model_card
from runtime.hub import PLACED

REPO = "someone/tiny-vit-explained"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # a snapshot folder is named by its commit


@pytest.fixture(scope="module")
def artifact(tiny_vit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hub") / "art"
    export_model(tiny_vit, folder, ExportConfig(explain="gradrollout", parity_images=1))
    return folder


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (36, 28, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty hub cache, huggingface_hub offline (no request leaves the machine)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def lay_out(cache: Path, repo: str, files: dict[str, bytes | Path], commit: str = COMMIT) -> Path:
    """What a download leaves in the hub cache: each file once in blobs/, the snapshot as relative
    links to them, refs/main naming the commit. Returns the repository's cache folder."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else Path(content).read_bytes()
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = folder / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return folder


def test_a_pushed_artifact_loads_back_verified_and_cached(artifact, photo, hub_cache):
    _, files = repo_files(artifact, PushConfig(repo=REPO, image=str(photo)))
    assert set(files) == {"manifest.json", "model.onnx", CARD, PICTURE}
    repo = lay_out(hub_cache, REPO, files)
    local, remote = load(artifact).predict(photo), load(REPO).predict(photo)
    assert remote.top_k == local.top_k and np.array_equal(remote.heatmaps, local.heatmaps)
    placed = repo / PLACED / COMMIT
    blob = (repo / "snapshots" / COMMIT / "model.onnx").resolve()
    assert not (placed / "model.onnx").is_symlink()
    assert os.stat(placed / "model.onnx").st_ino == os.stat(blob).st_ino  # a hard link: no second copy
    assert load(REPO).backend.folder == placed  # cached: the placed folder is used again


def test_a_tampered_download_is_refused_and_never_cached(artifact, hub_cache):
    _, files = repo_files(artifact, PushConfig(repo=REPO))
    data = bytearray(files["model.onnx"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    repo = lay_out(hub_cache, REPO, {**files, "model.onnx": bytes(data)})
    with pytest.raises(ArtifactError, match=r"does not match its manifest, refused: .*model.onnx differs .*SHA-256"):
        load(REPO)
    assert not (repo / PLACED / COMMIT).exists() and not list((repo / PLACED).iterdir())


def test_a_blob_changed_after_caching_is_refused(artifact, hub_cache):
    _, files = repo_files(artifact, PushConfig(repo=REPO))
    repo = lay_out(hub_cache, REPO, files)
    load(REPO)
    blob = (repo / "snapshots" / COMMIT / "model.onnx").resolve()
    data = bytearray(blob.read_bytes())
    data[-10] ^= 0xFF
    blob.write_bytes(bytes(data))  # the placed file is the same inode: it changed too
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        load(REPO)


def test_a_snapshot_link_out_of_the_cache_is_refused(artifact, hub_cache, tmp_path):
    _, files = repo_files(artifact, PushConfig(repo=REPO))
    repo = lay_out(hub_cache, REPO, files)
    link = repo / "snapshots" / COMMIT / "model.onnx"
    outside = tmp_path / "elsewhere.onnx"
    outside.write_bytes(files["model.onnx"].read_bytes())
    link.unlink()
    link.symlink_to(outside)
    with pytest.raises(ArtifactError, match="leads outside the hub cache's blobs"):
        load(REPO)


def test_offline_and_not_cached_is_one_line(hub_cache):
    with pytest.raises(ArtifactError, match="'nobody/nothing' is not a folder here, and not in the hub cache "
                                            "while HF_HUB_OFFLINE is set"):
        load("nobody/nothing")
    with pytest.raises(ArtifactError, match="does not exist"):
        load("no/such/folder")


def test_the_card_says_what_the_hub_reads_and_what_was_measured(artifact, photo, tmp_path):
    from runtime.manifest import read_manifest

    manifest = read_manifest(artifact)
    bench = {"header": {"images": 12, "data": "digits", "machine": {"cpu": "cpu X", "cores": 2}},
             "rows": [{"backend": "onnx", "precision": "fp32", "explain": "gradrollout", "target": "onnx fp32 gradrollout",
                       "accuracy": 0.875, "latency_ms_p50": 0.25},
                      {"backend": "onnx", "precision": "int8", "explain": "gradrollout", "target": "onnx int8 gradrollout",
                       "accuracy": 0.5}]}
    card = model_card(manifest, REPO, bench, PICTURE, license="mit")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["pipeline_tag"] == "image-classification" and meta["library_name"] == "onnx"
    assert meta["license"] == "mit" and "explain-gradrollout" in meta["tags"] and "base_model" not in meta
    logits = manifest.parity["outputs"]["logits"]["max_abs_diff"]
    assert f"| logits | {logits:.3g} |" in card
    assert "| onnx fp32 gradrollout | 0.8750 | 0.250 |" in card and "onnx int8" not in card
    assert f"![The input beside its explanation heatmap]({PICTURE})" in card
    assert f'runtime.load("{REPO}")' in card and "explain_class=" in card and "ExplainableViT" in card
    assert all(f"`{label}`" in card for label in manifest.labels)
    assert manifest.files["model.onnx"]["sha256"] in card


def test_a_label_cannot_break_the_card(artifact):
    from dataclasses import replace

    from runtime.manifest import read_manifest

    manifest = replace(read_manifest(artifact), labels=["a|b", "<script>x</script>", "c`d", "e\nf"])
    card = model_card(manifest, REPO)
    assert "<script>" not in card and "a\\|b" in card and "e\\nf" in card
    yaml.safe_load(card.split("---\n")[1])


def test_push_dry_run_writes_the_card_and_sends_nothing(artifact, photo, tmp_path, capsys):
    from export.__main__ import main

    out = tmp_path / "preview"
    assert main(["push", str(artifact), "--repo", REPO, "--image", str(photo), "--dry-run", str(out)]) == 0
    listed = capsys.readouterr().out
    assert "model.onnx" in listed and "manifest.json" in listed
    assert sorted(p.name for p in out.iterdir()) == [CARD, PICTURE]
    assert Image.open(out / PICTURE).size[0] > 0
    assert main(["push", str(artifact), "--repo", "not a repo", "--dry-run", str(tmp_path / "x")]) == 2


def test_push_refuses_a_changed_artifact(artifact, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(artifact, broken)
    data = bytearray((broken / "model.onnx").read_bytes())
    data[100] ^= 0xFF
    (broken / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        push(broken, PushConfig(repo=REPO, dry_run=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers every plain-HTTP request itself, recording what it was asked."""

    seen: list[str] = []

    def do_HEAD(self):  # noqa: N802 (http.server's name)
        _Proxy.seen.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def session_reset():
    from huggingface_hub.utils import reset_sessions

    from _infra.hf import hub_reachable

    hub_reachable.cache_clear()
    reset_sessions()
    yield
    hub_reachable.cache_clear()
    reset_sessions()


def test_the_hub_probe_goes_through_the_users_proxy(monkeypatch, session_reset):
    """The endpoint's host does not resolve; only the proxy can answer for it (a raw TCP probe to the
    host cannot), and offline mode answers without asking anyone."""
    from huggingface_hub import constants

    from _infra.hf import hub_reachable

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", "http://hub.invalid")
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        assert hub_reachable(timeout=5) is True and _Proxy.seen == ["http://hub.invalid/"]
        hub_reachable.cache_clear()
        monkeypatch.delenv("HTTP_PROXY")
        monkeypatch.delenv("http_proxy", raising=False)
        assert hub_reachable(timeout=5) is False
        hub_reachable.cache_clear()
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        assert hub_reachable(timeout=5) is False and len(_Proxy.seen) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_card_with_a_bench_file_from_the_command_line(artifact, tmp_path, capsys):
    from export.__main__ import main

    bench = tmp_path / "results.json"
    bench.write_text(json.dumps({"header": {}, "rows": [{"backend": "torch", "precision": "fp32",
                                                         "explain": "gradrollout", "target": "torch fp32 gradrollout",
                                                         "accuracy": 0.5}]}))
    out = tmp_path / "preview"
    assert main(["push", str(artifact), "--repo", REPO, "--bench", str(bench), "--dry-run", str(out)]) == 0
    assert "| torch fp32 gradrollout | 0.5000 |" in (out / CARD).read_text()
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["push", str(artifact), "--repo", REPO, "--bench", str(tmp_path / "bad.json"),
                 "--dry-run", str(tmp_path / "p2")]) == 2
    assert "not a `python -m bench` results.json" in capsys.readouterr().err


def test_the_command_line_predicts_from_a_hub_id(artifact, photo, tmp_path):
    """`python -m runtime predict org/name ...` in a fresh process, huggingface_hub reading its cache
    folder and offline mode from the environment as a user sets them."""
    import subprocess
    import sys

    _, files = repo_files(artifact, PushConfig(repo=REPO))
    lay_out(tmp_path / "hf-cache", REPO, files)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hf-cache"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "runtime", "predict", REPO, str(photo), "--out", str(tmp_path / "p")],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads((tmp_path / "p" / "predictions.json").read_text())["rows"][0]
    assert row["top_k"][0][0] == load(artifact).predict(photo).top1[0]
