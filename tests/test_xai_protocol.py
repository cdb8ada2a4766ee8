"""`xai eval --protocol chefer`, `--device`, `--batch-size` and sharding under torchrun: the
protocol names what its registries hold, transformer attribution from layer 1 is their product,
batched and sharded evaluation give every image the scores one unbatched process gives."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import free_port, save_tiny_checkpoint
from xai.__main__ import Shard, main
from xai.evaluate import evaluate, merge_results
from xai.methods import METHODS, get_methods
from xai.metrics import METRICS
from xai.protocols import PROTOCOLS, unknown_names

DIGITS = [str(d) for d in range(10)]
CHEFER = PROTOCOLS["chefer"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Three layers, so a product from layer 1 differs from one from layer 0 and from the last layer."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("protocol-vit"), "vit", labels=DIGITS, num_hidden_layers=3)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_every_protocol_names_registered_methods_and_metrics(name):
    assert unknown_names(PROTOCOLS[name]) == []


def test_chefer_is_their_table_perturbation_only():
    assert CHEFER.methods == ("raw-attention", "rollout-from-1", "gradcam-attn", "transformer-attribution-from-1")
    assert CHEFER.metrics == ("perturbation-pos", "perturbation-neg") and not CHEFER.sanity
    assert CHEFER.explained == "predicted"


def test_transformer_attribution_from_1_is_their_product_from_layer_1(checkpoint):
    from runtime.checkpoint import load_checkpoint
    from xai.hooks import capture, pixel_values

    ck = load_checkpoint(str(checkpoint))
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    cap = capture(ck.model, pixel_values(images, ck.mean, ck.std), relevance=True)
    n = cap.attentions[0].shape[-1]
    joint = np.eye(n)  # their compute_rollout_attention: joint = (I + A_l) joint, l = 1.., no normalisation
    for rel, grad in list(zip(cap.attention_relevance, cap.attention_grads))[1:]:
        joint = (np.eye(n) + np.clip(grad.astype(np.float64) * rel, 0, None).mean(1)) @ joint
    row = np.clip(joint[:, 0, 1:], 0, None).reshape(3, *ck.patch_grid)
    got = METHODS["transformer-attribution-from-1"](cap, ck.patch_grid, 1)
    np.testing.assert_allclose(got, row / row.max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)
    assert np.abs(got - METHODS["transformer-attribution"](cap, ck.patch_grid, 1)).max() > 1e-3


def run_eval(checkpoint, out, *args) -> dict:
    assert main(["eval", str(checkpoint), "--data", "digits", "--limit", "6", "--out", str(out), *args]) == 0
    return json.loads((out / "xai_results.json").read_text())


def scores(data: dict) -> dict:
    return {(r["metric"], r["method"]): r["scores"] for r in data["rows"]}


def test_chefer_protocol_batched_gives_the_unbatched_scores(checkpoint, tmp_path):
    one = run_eval(checkpoint, tmp_path / "one", "--protocol", "chefer", "--batch-size", "1")
    batched = run_eval(checkpoint, tmp_path / "six", "--protocol", "chefer", "--batch-size", "6")
    assert batched["header"]["metrics"] == list(CHEFER.metrics)
    assert list(dict.fromkeys(r["method"] for r in batched["rows"])) == list(CHEFER.methods)
    assert batched["header"]["run"]["protocol"] == "chefer" and batched["header"]["run"]["batch_size"] == 6
    assert scores(one) == scores(batched)


def subject(checkpoint, batch: int):
    from xai.__main__ import checkpoint_subject

    return checkpoint_subject(str(checkpoint), batch=batch)[0]


def test_slices_merged_give_the_whole_result(checkpoint):
    """What rank 0 does with the gathered slices: every per-image score, map, mean curve and the
    accuracy as one evaluation of all images (whole chunks per slice, so the random baseline too)."""
    from xai.__main__ import load_images

    images, targets, _ = load_images("digits", (32, 32), DIGITS, 8)
    methods, metrics = get_methods(["rollout-from-1", "random"]), [METRICS["perturbation-pos"]]
    s = subject(checkpoint, 2)
    whole = evaluate(s, images, targets, methods=methods, metrics=metrics, sanity_check=False, progress=False)
    parts = [Shard(rank, 3).part(len(images), 2) for rank in range(3)]
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 4), (4, 8)]
    merged = merge_results([evaluate(s, images[p], targets[p], methods=methods, metrics=metrics, sanity_check=False,
                                     progress=False) for p in parts])
    assert merged.n_images == 8 and merged.accuracy == pytest.approx(whole.accuracy)
    for name in whole.scores:
        np.testing.assert_array_equal(merged.scores[name]["perturbation-pos"], whole.scores[name]["perturbation-pos"])
        np.testing.assert_array_equal(merged.maps[name], whole.maps[name])
        np.testing.assert_allclose(merged.curves[name]["perturbation-pos"], whole.curves[name]["perturbation-pos"])


def test_merged_slices_keep_the_whole_sets_chance_level(checkpoint):
    """The pointing game's chance level (the mean box share) of slices merged is the whole set's,
    not the first slice's."""
    from xai.__main__ import load_images

    images, targets, boxes = load_images("digits-clutter", (32, 32), DIGITS, 8)
    methods, metrics = get_methods(["random"]), [METRICS["pointing-game"]]
    s = subject(checkpoint, 2)
    run = lambda p: evaluate(s, images[p], targets[p], boxes[p], methods=methods, metrics=metrics,  # noqa: E731
                             sanity_check=False, progress=False)
    whole = run(slice(None))
    merged = merge_results([run(Shard(rank, 3).part(len(images), 2)) for rank in range(3)])
    assert merged.chance["pointing-game"] == pytest.approx(whole.chance["pointing-game"])
    assert run(slice(0, 2)).chance["pointing-game"] != pytest.approx(whole.chance["pointing-game"])


def test_more_processes_than_chunks_is_refused():
    from xai.evaluate import EvalInputError

    with pytest.raises(EvalInputError, match="3 processes for 4 images in 2 chunk"):
        Shard(0, 3).part(4, 2)


@pytest.mark.parametrize("args, message", [
    (["--protocol", "chefer", "--methods", "rollout"], "--protocol chefer fixes the methods"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
])
def test_bad_options_are_one_line_and_exit_2(checkpoint, tmp_path, capsys, args, message):
    assert main(["eval", str(checkpoint), "--data", "digits", "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("device, available", [("cuda", torch.cuda.is_available),
                                               ("mps", torch.backends.mps.is_available)])
def test_an_unavailable_device_is_refused(checkpoint, tmp_path, capsys, device, available):
    if available():
        pytest.skip(f"{device} is available here")
    assert main(["eval", str(checkpoint), "--data", "digits", "--device", device, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"--device {device}: torch" in err and "available: cpu" in err and len(err.strip().splitlines()) == 1


def test_an_unknown_protocol_is_refused(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", str(checkpoint), "--protocol", "chefr", "--out", str(tmp_path / "r")])
    assert e.value.code == 2 and "did you mean 'chefer'" in capsys.readouterr().err


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


@pytest.mark.slow
def test_two_torchrun_processes_give_the_figures_of_one(checkpoint, tmp_path):
    common = ["eval", str(checkpoint), "--data", "digits", "--protocol", "chefer", "--limit", "8", "--batch-size", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = ["torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
              "--master_port", str(free_port()), "-m", "xai"]
    for out, command in (("one", ["xai"]), ("two", launch)):
        proc = subprocess.run(cli(*command, *common, "--out", str(tmp_path / out)), env=env, timeout=120,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (json.loads((tmp_path / n / "xai_results.json").read_text()) for n in ("one", "two"))
    assert two["header"]["run"]["processes"] == 2 and two["header"]["n_images"] == 8
    assert scores(one) == scores(two)
    for a, b in zip(one["rows"], two["rows"]):
        assert (a["mean"], a["ci_low"], a["ci_high"]) == (b["mean"], b["ci_low"], b["ci_high"])
    for method, curves in one["header"]["curves"].items():
        for name, curve in curves.items():
            np.testing.assert_allclose(two["header"]["curves"][method][name], curve)


WRAPPED = """import sys
import torch.distributed as dist
from xai.__main__ import main
code = main(sys.argv[1:])
sys.exit(3 if dist.is_initialized() else code)  # 3: this rank left its process group open
"""


@pytest.mark.slow
def test_every_torchrun_process_closes_its_group_before_it_exits(checkpoint, tmp_path):
    """A rank that exits with gloo's threads alive can abort and fail the launch (finetune saw one
    run in six): xai eval waits for every rank and closes the group, on rank 0 after the report."""
    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPED)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                           "127.0.0.1", "--master_port", str(free_port()), str(script), "eval", str(checkpoint),
                           "--data", "digits", "--protocol", "chefer", "--limit", "4", "--batch-size", "2",
                           "--out", str(tmp_path / "r")], env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "r" / "xai_results.json").read_text())["header"]["run"]["processes"] == 2
