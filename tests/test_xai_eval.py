"""`python -m xai eval` end to end on a tiny checkpoint and its ONNX export, with the random
baseline, the pointing game on the generated localization set, and the sanity check."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import save_tiny_checkpoint
from xai.__main__ import main
from xai.methods import METHODS

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def digit_checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("digit-vit"), "vit", labels=DIGITS)


def test_eval_checkpoint_scores_every_method(digit_checkpoint, tmp_path, capsys):
    assert main(["eval", str(digit_checkpoint), "--data", "digits-clutter", "--limit", "6", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "xai_results.json").read_text())
    header, rows = results["header"], results["rows"]
    metrics = ["perturbation-pos", "perturbation-neg", "deletion", "insertion", "pointing-game", "energy-in-box",
               "sanity-abs-rank-corr", "sanity-ssim"]
    assert header["metrics"] == metrics and header["n_images"] == 6 and header["sanity"]["randomisations"] == 3
    assert [(r["metric"], r["method"]) for r in rows] == [(m, n) for m in metrics for n in METHODS]
    keys = [c["key"] for c in header["columns"]]
    assert keys[:5] == ["metric", "method", "mean", "ci_low", "ci_high"] and {"chance", "passes", "vs_centre"} <= set(keys)
    for row in rows:
        assert len(row["scores"]) == 6 and row["mean"] == pytest.approx(np.mean(row["scores"]), abs=1e-5)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
        assert set(row["differences"]) == set(METHODS) - {row["method"]}
    assert "| random |" in printed and "| centre |" in printed and "pointing-game ↑ (chance 0." in printed
    assert 0.05 < header["chance"]["pointing-game"] < 0.3
    cascade = json.loads((tmp_path / "xai_cascade.json").read_text())
    assert [c["key"] for c in cascade["header"]["columns"]] == ["method", "to_head", "to_block_1", "to_block_0",
                                                                "to_embeddings"]
    edges = next(r for r in cascade["rows"] if r["method"] == "edges")
    assert [edges[k] for k in ("to_head", "to_embeddings")] == pytest.approx([1.0, 1.0])  # weight-independent
    assert {r["passes"] for r in rows if r["method"] in ("edges", "centre") and "passes" in r} == {"no"}
    for name in ("xai_report.md", "xai_methods.png", "xai_curves.png", "xai_cascade.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_eval_artifact_scores_its_in_graph_map(digit_checkpoint, tmp_path):
    from export.api import export_model
    from export.config import ExportConfig

    artifact = tmp_path / "onnx"
    export_model(digit_checkpoint, artifact, ExportConfig(format="onnx"))
    assert main(["eval", str(artifact), "--data", "digits-clutter", "--limit", "5", "--out", str(tmp_path / "r")]) == 0
    rows = json.loads((tmp_path / "r" / "xai_results.json").read_text())["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    assert methods == ["in-graph rollout (onnx fp32)", "random", "centre"]
    graph = {r["metric"] for r in rows if r["method"] == methods[0]}
    assert {"sanity-abs-rank-corr", "sanity-ssim", "pointing-game"} <= graph


@pytest.mark.parametrize("args, message", [
    (["--methods", "rollout,lrp"], "unknown method(s) lrp"),
    (["--limit", "0"], "--limit must be >= 1"),
    (["--metrics", "deletion,road-morff"], "unknown metric(s) road-morff (did you mean 'road-morf'?)"),
    (["--data", "digits", "--limit", "3", "--methods", "rollout"], None),  # fine: same labels, no boxes
])
def test_eval_errors_are_one_line(digit_checkpoint, tmp_path, capsys, args, message):
    code = main(["eval", str(digit_checkpoint), "--out", str(tmp_path), "--no-sanity", *args])
    if message is None:
        assert code == 0
        assert "pointing-game" not in (tmp_path / "xai_report.md").read_text()
    else:
        assert code == 2 and message in capsys.readouterr().err


def test_metrics_names_what_is_scored_costly_ones_included(digit_checkpoint, tmp_path):
    """`--metrics` scores exactly the named metrics through their registry entries, the costly ones
    (ROAD, faithfulness correlation) too, which the default set leaves out."""
    assert main(["eval", str(digit_checkpoint), "--data", "digits", "--limit", "3", "--methods", "rollout",
                 "--metrics", "road-morf,faithfulness-correlation", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "xai_results.json").read_text())["rows"]
    assert {r["metric"] for r in rows} == {"road-morf", "faithfulness-correlation"}
    assert {r["method"] for r in rows} == {"rollout"}


def test_eval_refuses_data_with_other_labels(tiny_vit, tmp_path, capsys):
    assert main(["eval", str(tiny_vit), "--data", "digits", "--out", str(tmp_path)]) == 2
    assert "differ from the model's" in capsys.readouterr().err


def sanity_subject(folder):
    from runtime.checkpoint import load_checkpoint
    from xai.subjects import ModelSubject

    ck = load_checkpoint(folder)
    return ModelSubject(ck.model, ck.patch_grid, ck.n_special_tokens, ck.mean, ck.std)


@pytest.mark.parametrize("kind, distilled", [("vit", False), ("deit", False), ("deit", True)])
def test_randomisation_draws_every_tensor_afresh(tmp_path, kind, distilled):
    import torch

    from xai.subjects import randomisation_stages, randomise_weights

    model = sanity_subject(save_tiny_checkpoint(tmp_path, kind, distilled=distilled)).model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stages = randomisation_stages(model)
    assert stages[0][0] == "head" and stages[-1][0] == "embeddings"
    randomise_weights(model)
    unchanged = [n for n, p in model.named_parameters() if torch.allclose(p, before[n])]
    assert not unchanged, f"not redrawn: {unchanged}"
    constant = [n for n, p in model.named_parameters() if p.numel() > 1 and float(p.detach().std()) == 0]
    assert not constant, f"constant after randomisation: {constant}"


def test_cascade_randomises_from_the_top_down(tiny_vit):
    import torch

    from xai.subjects import randomisation_stages

    subject = sanity_subject(tiny_vit)
    stages = randomisation_stages(subject.model)
    trained = dict(subject.model.named_parameters())
    for k, (stage, step) in enumerate(subject.cascade()):
        assert stage == stages[k][0]
        changed = {n for n, p in step.model.named_parameters() if not torch.equal(p, trained[n])}
        assert changed == {n for _, names in stages[:k + 1] for n in names}


def test_sanity_maps_explain_the_trained_models_class(tiny_vit):
    import numpy as np

    from xai.evaluate import randomised_maps
    from xai.methods import get_methods

    subject = sanity_subject(tiny_vit)
    images = np.random.default_rng(1).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    predicted = subject.forward(images).argmax(-1)
    methods = get_methods(["grad-rollout"])
    stages, maps = randomised_maps(subject, images, methods, predicted)
    assert len(stages) == len(maps) == 4
    *_, (_, full) = subject.cascade()  # same seeds: the same fully randomised model
    assert (full.forward(images).argmax(-1) != predicted).any()  # so the class matters
    np.testing.assert_allclose(maps[-1]["grad-rollout"], full.explain(images, methods, predicted)["grad-rollout"])
    assert not np.allclose(maps[-1]["grad-rollout"], full.explain(images, methods)["grad-rollout"])


IMAGENET_LIKE = ["tench", "crane", "goldfish", "crane"]  # model order, with a repeated name as ImageNet has
WNIDS = ["n01440764", "n02012849", "n01443537", "n03126707"]  # folder names, sorted differently


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory):
    from conftest import write_image_folder

    root = tmp_path_factory.mktemp("imagenet-like")
    write_image_folder(root / "val", labels=WNIDS, per_class=3, size=(32, 32))
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} {n}\n" for w, n in zip(WNIDS, IMAGENET_LIKE)))
    checkpoint = save_tiny_checkpoint(root / "model", "vit", labels=IMAGENET_LIKE)
    return root, checkpoint


def test_eval_reads_an_imagenet_style_folder_whole_through_a_label_map(imagenet_like, tmp_path):
    from finetune.eval_data import load_eval_folder

    root, checkpoint = imagenet_like
    images = load_eval_folder(root / "val", IMAGENET_LIKE, root / "LOC_synset_mapping.txt")
    assert len(images) == 12  # the whole folder: no hold-out split
    assert sorted(set(images.targets.tolist())) == [0, 1, 2, 3] and images[0][1] == WNIDS.index(sorted(WNIDS)[0])
    assert main(["eval", str(checkpoint), "--data", str(root / "val"),
                 "--label-map", str(root / "LOC_synset_mapping.txt"), "--methods", "rollout", "--no-sanity", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "xai_results.json").read_text())["header"]["n_images"] == 12


def test_folders_named_as_labels_map_by_name_in_the_models_order(tmp_path):
    from conftest import write_image_folder
    from finetune.eval_data import load_eval_folder

    write_image_folder(tmp_path / "data", labels=["apple", "zebra"], per_class=2)
    images = load_eval_folder(tmp_path / "data", ["zebra", "apple"])
    assert images.targets.tolist() == [1, 1, 0, 0]  # apple is the model's class 1


def test_unmatched_or_repeated_folder_names_are_one_line_errors(imagenet_like, tmp_path, capsys):
    from conftest import write_image_folder

    root, checkpoint = imagenet_like
    write_image_folder(tmp_path / "data", labels=["tench", "crane", "shark"], per_class=1)
    assert main(["eval", str(checkpoint), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "'crane' (repeated among the model's labels)" in err and "'shark' (not one of" in err
    assert len(err.strip().splitlines()) == 1


def test_limit_samples_every_class_with_a_seed():
    from finetune.eval_data import sample_across_classes

    targets = np.repeat(np.arange(4), 10)  # class order, as folders list them
    picked = sample_across_classes(targets, 8, seed=0)
    assert np.bincount(targets[picked], minlength=4).tolist() == [2, 2, 2, 2]
    assert np.array_equal(picked, sample_across_classes(targets, 8, seed=0))
    assert not np.array_equal(picked, sample_across_classes(targets, 8, seed=1))
    assert len(sample_across_classes(targets, 100)) == 40


def test_images_are_resized_with_the_models_own_filter(tmp_path):
    """A bicubic checkpoint (DeiT's processors are) is evaluated on bicubic-resized images, as the
    runtime feeds it: never a hard-coded bilinear."""
    from conftest import LABELS, write_image_folder

    from runtime.images import resize_batch
    from xai.__main__ import checkpoint_subject, load_images

    ck = save_tiny_checkpoint(tmp_path / "ck", "deit")
    config = json.loads((ck / "preprocessor_config.json").read_text())
    (ck / "preprocessor_config.json").write_text(json.dumps({**config, "resample": 3}))  # PIL's BICUBIC
    _, size, labels, resample = checkpoint_subject(str(ck))
    assert resample == "bicubic"
    data = write_image_folder(tmp_path / "data", labels=LABELS, per_class=1, size=(20, 14))
    images, _, _ = load_images(str(data), size, labels, limit=4, resample=resample)
    from PIL import Image

    originals = sorted((data / name / f) for name in LABELS for f in sorted(p.name for p in (data / name).iterdir()))
    pil = [Image.open(p).convert("RGB") for p in originals]
    bicubic, bilinear = resize_batch(pil, size, "bicubic"), resize_batch(pil, size, "bilinear")
    assert not np.array_equal(bicubic, bilinear)
    assert sorted(map(bytes, images)) == sorted(map(bytes, bicubic))
