"""One ONNX file, the same numbers in every runtime: each explain kind's tiny-model export through
ONNX Runtime, ONNX's reference evaluator (test-only executor: the spec written in numpy) and
OpenVINO, fp32, ViT and distilled DeiT; plus the export's portability checks on their own."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import save_tiny_checkpoint
from export import ExportConfig, export_model
from export.config import EXPLAIN_KINDS
from export.onnx import fold_reshape_chains, portability_problems
from export.parity import parity_images
from runtime import BACKENDS, BackendUnavailable, read_manifest
from runtime.backend import Backend

FP32_AGREEMENT = 1e-4  # the bar: every output of every runtime within this of ONNX Runtime's
MODELS = {"vit": dict(kind="vit", seed=3), "deit-distilled": dict(kind="deit", distilled=True, seed=4)}
LAYERS, HEADS = 2, 2  # conftest's tiny configs


class ReferenceExecutor(Backend):
    """onnx.reference.ReferenceEvaluator behind the backend interface (slow; tests only)."""

    name = "onnx-reference"

    def __init__(self, folder, manifest):
        from onnx.reference import ReferenceEvaluator

        super().__init__(folder, manifest)
        self.evaluator = ReferenceEvaluator(str(self.folder / manifest.model_file))

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        feed = {self.manifest.input["name"]: np.ascontiguousarray(images, dtype=np.uint8)}
        classes = self.class_targets(len(images), targets)
        if classes is not None:
            feed[self.manifest.class_input["name"]] = classes
        return dict(zip(self.evaluator.output_names, self.evaluator.run(None, feed)))


def openvino_backend(folder, manifest):
    pytest.importorskip("openvino", reason="optional dependency: pip install 'explainable-vit[openvino]'")
    return BACKENDS["openvino"](folder, manifest)


EXECUTORS = {"reference evaluator": ReferenceExecutor, "openvino": openvino_backend}  # each against ONNX Runtime


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("runtimes")
    return {name: save_tiny_checkpoint(root / name, **kw) for name, kw in MODELS.items()}


@pytest.fixture(scope="module")
def artifact(checkpoints, tmp_path_factory):
    """(model, explain kind[, precision]) -> exported artifact folder (fp32 unless named), made on first use."""
    root, made = tmp_path_factory.mktemp("runtime-artifacts"), {}

    def get(model: str, kind: str, precision: str = "fp32"):
        if (model, kind, precision) not in made:
            made[model, kind, precision] = root / f"{model}-{kind}-{precision}"
            export_model(checkpoints[model], made[model, kind, precision],
                         ExportConfig(precision=precision, explain=kind))
        return made[model, kind, precision]
    return get


def inputs(kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Two smooth images and one of uniform noise; gradrollout: predicted class, then named ones."""
    images = np.concatenate([parity_images(2, (32, 32), seed=11),
                             np.random.default_rng(5).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)])
    return images, (np.array([-1, 0, 3]) if kind == "gradrollout" else None)


@pytest.mark.parametrize("executor", list(EXECUTORS))
@pytest.mark.parametrize("kind", list(EXPLAIN_KINDS))
@pytest.mark.parametrize("model", list(MODELS))
def test_runtimes_agree_with_onnxruntime(artifact, model, kind, executor):
    folder = artifact(model, kind)
    manifest = read_manifest(folder)
    images, targets = inputs(kind)
    expected = BACKENDS["onnx"](folder, manifest).run(images, targets)
    got = EXECUTORS[executor](folder, manifest).run(images, targets)
    assert set(got) == set(expected) == set(manifest.outputs)
    worst = {name: float(np.abs(got[name] - expected[name]).max()) for name in expected}
    assert max(worst.values()) <= FP32_AGREEMENT, f"{executor} vs ONNX Runtime, max |diff| per output: {worst}"


def test_openvino_backend_serves_predict(artifact):
    import runtime

    pytest.importorskip("openvino")
    folder = artifact("vit", "gradrollout")
    images = list(inputs("gradrollout")[0])
    ours = runtime.load(folder, backend="openvino").predict(images, explain_class=2)
    reference = runtime.load(folder).predict(images, explain_class=2)
    np.testing.assert_allclose(ours.heatmaps, reference.heatmaps, atol=FP32_AGREEMENT)
    assert ours.top1 == reference.top1


def test_openvino_missing_says_how_to_install(artifact, monkeypatch):
    folder = artifact("vit", "none")
    monkeypatch.setitem(sys.modules, "openvino", None)  # what `import openvino` sees when not installed
    with pytest.raises(BackendUnavailable, match="pip install"):
        BACKENDS["openvino"](folder, read_manifest(folder))


def _graph(nodes, initializers):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 4])
    outputs = [helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in nodes
               if n.op_type in ("MatMul", "Slice")]
    return helper.make_model(helper.make_graph(nodes, "g", [x], outputs, initializer=initializers))


def test_portability_checks_name_each_construct():
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    ints = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in
            (("start", 1), ("end", np.iinfo(np.int64).max), ("axis", 1))]
    nodes = [helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]), helper.make_node("MatMul", ["x", "wt"], ["a"]),
             helper.make_node("MatMul", ["x", "w"], ["b"]),
             helper.make_node("Slice", ["x", "start", "end", "axis"], ["c"])]
    problems = portability_problems(_graph(nodes, [w, *ints]))
    assert len(problems) == 2
    assert "'w' is read by MatMul/Gemm both as stored and transposed" in problems[1] and "'end'" in problems[0]
    assert portability_problems(_graph(nodes[:2], [w])) == []



def test_reshape_chains_fold_to_one_reshape_with_the_same_result():
    """x -> Reshape -> Reshape -> Reshape folds to one Reshape of x; an inner Reshape something else
    reads stays; a shape with 0 (copy the input's dimension) is left alone. Same outputs."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    shapes = {"s1": [2, 3, 4], "s2": [6, -1], "s3": [-1], "s4": [0, 12]}
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"]), helper.make_node("Reshape", ["a", "s2"], ["b"]),
             helper.make_node("Reshape", ["b", "s3"], ["c"]), helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Reshape", ["x", "s1"], ["d"]), helper.make_node("Reshape", ["d", "s4"], ["e"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [24])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in "cre"],
                              [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in shapes.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = {"x": np.arange(24, dtype=np.float32)}
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    assert fold_reshape_chains(model) == 2
    kept = {n.output[0]: list(n.input) for n in model.graph.node}
    assert kept["c"] == ["x", "s3"] and "b" not in kept and "a" in kept and kept["e"] == ["d", "s4"]
    assert sorted(t.name for t in model.graph.initializer) == ["s1", "s3", "s4"]  # s2 read by nothing now
    after = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    assert all(np.array_equal(u, w) for u, w in zip(before, after))


@pytest.mark.parametrize("kind", list(EXPLAIN_KINDS))
def test_no_reshape_reads_a_reshape(artifact, kind):
    """The written graphs hold no chain of Reshapes (tracing records each view; ONNX Runtime runs
    each as a node) and no initializer nothing reads (ONNX Runtime warns about each at load)."""
    import onnx

    graph = onnx.load(str(artifact("vit", kind) / "model.onnx")).graph
    producer = {o: n for n in graph.node for o in n.output}
    chains = [n.name for n in graph.node if n.op_type == "Reshape" and n.input[0] in producer
              and producer[n.input[0]].op_type == "Reshape"]
    read = {i for n in graph.node for i in n.input}
    assert not chains, chains
    assert not [t.name for t in graph.initializer if t.name not in read]


@pytest.mark.parametrize("model", list(MODELS))
def test_weight_products_fuse_and_attention_moves_no_data(artifact, model, tmp_path):
    """The packed forward (export/_forward.py): after ONNX Runtime's optimizer every weight product
    is one Gemm with its bias (per layer Q, K, V, output, two MLP; plus the classifiers), the
    attention's two products read Q, K and V through their strides (no plain MatMul, no Transpose
    feeding them), and the only Transposes left are one per layer (the context back to token-major)
    plus three at the start: the input's NHWC -> NCHW, the patch grid's to tokens, tokens to token-major."""
    from collections import Counter

    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(artifact(model, "none") / "model.onnx"), options, providers=["CPUExecutionProvider"])
    ops = Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
    classifiers = 2 if model == "deit-distilled" else 1
    assert (ops["Gemm"], ops["MatMul"], ops["FusedMatMul"]) == (6 * LAYERS + classifiers, 0, 2 * LAYERS), ops
    assert ops["Transpose"] == LAYERS + 3, ops


@pytest.mark.parametrize("model,precision", [(m, "fp32") for m in MODELS] + [("vit", "int8")])
def test_rollout_graph_averages_heads_as_onnx_runtime_makes_each_map(artifact, model, precision, tmp_path):
    """The rollout graph averages each layer's map over heads by a product with a constant 1/heads
    row reading the Softmax's output, and ONNX Runtime runs that product before the next layer's
    softmax, while the map is in cache (the optimized model's nodes are in execution order): after
    the last layer the rollout reads one mean per layer, not every head's map, which would stay in
    memory until then. The last layer's map (the readout rows only) is averaged after its product.
    int8: the same order after quantization (which re-sorts the nodes; export.onnx.order_nodes_like)."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(artifact(model, "rollout", precision) / "model.onnx"), options,
                         providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    position = {id(n): i for i, n in enumerate(graph.node)}

    def source(name):  # through Reshapes
        while name in producer and producer[name].op_type == "Reshape":
            name = producer[name].input[0]
        return producer.get(name)

    softmaxes = [i for i, n in enumerate(graph.node) if n.op_type == "Softmax"]
    means = [n for n in graph.node if n.op_type == "MatMul" and n.input[0] in constants  # (1, heads) of 1/heads
             and constants[n.input[0]].ndim == 2 and np.allclose(constants[n.input[0]], 1 / HEADS)]
    of_maps = [(position[id(source(n.input[1]))], position[id(n)]) for n in means
               if source(n.input[1]).op_type == "Softmax"]
    assert len(of_maps) == LAYERS - 1, [n.name for n in means]
    late = [(s, m) for s, m in of_maps if any(s < i < m for i in softmaxes)]
    assert not late, f"head means run after a later layer's softmax: {late}"
    assert not [n for n in graph.node if n.op_type == "ReduceMean"]
