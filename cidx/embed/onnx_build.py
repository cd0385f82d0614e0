"""Builds the all-MiniLM-L6-v2 ONNX graph from the verified safetensors (no torch, nothing downloaded).

The graph is emitted directly with ONNX Runtime's fused contrib operators (com.microsoft domain):
EmbedLayerNormalization, Attention, SkipLayerNormalization and BiasGelu, i.e. the graph ORT's own
BERT optimizer would produce, without running a pattern matcher over a hand-written unfused graph.
Mean pooling is in the graph; L2 normalisation stays in numpy (it needs the 1e-12 floor).

The int8 variant is the fp32 graph through `quantize_dynamic` (per-channel int8 weights, activations
quantized at run time). Only MatMul and Attention are quantized: the embedding table stays fp32
(a lookup costs nothing, and quantizing it would only add error).

`onnx` and the quantizer are imported here only, and this module is imported only when the cached
model is missing or damaged: a warm start never loads them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from cidx.embed.local_minilm import DIM, HEADS, LAYERS, LN_EPS, read_safetensors
from cidx.embed.onnx_cache import BUILDER_VERSION
from cidx.fastpath.errors import EmbeddingError

VARIANTS = ("fp32", "int8")
OPSET = 17
MS_DOMAIN = "com.microsoft"


def _tensors(source: Path) -> dict[str, np.ndarray]:
    t = read_safetensors(source)

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        arr = t.get(name)
        if arr is None or arr.shape != shape or arr.dtype != np.float32:
            raise EmbeddingError(f"{source}: tensor {name} missing or not float32{list(shape)}; "
                                 f"delete {source.parent} so it is unpacked again")
        return np.asarray(arr)

    out = {
        "word": get("embeddings.word_embeddings.weight", (30522, DIM)),
        # No segment input: every token is type 0, so its embedding is folded into the positions.
        "pos": get("embeddings.position_embeddings.weight", (512, DIM))
        + get("embeddings.token_type_embeddings.weight", (2, DIM))[0],
        "emb_ln_g": get("embeddings.LayerNorm.weight", (DIM,)),
        "emb_ln_b": get("embeddings.LayerNorm.bias", (DIM,)),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def w(name: str, rows: int, cols: int) -> np.ndarray:  # torch Linear stores (out, in)
            return np.ascontiguousarray(get(p + name + ".weight", (rows, cols)).T)

        def b(name: str, size: int = DIM) -> np.ndarray:
            return get(p + name, (size,))

        out[f"l{i}.qkv_w"] = np.concatenate([w("attention.self.query", DIM, DIM), w("attention.self.key", DIM, DIM),
                                             w("attention.self.value", DIM, DIM)], axis=1)
        out[f"l{i}.qkv_b"] = np.concatenate([b("attention.self.query.bias"), b("attention.self.key.bias"),
                                             b("attention.self.value.bias")])
        out[f"l{i}.o_w"] = w("attention.output.dense", DIM, DIM)
        out[f"l{i}.o_b"] = b("attention.output.dense.bias")
        out[f"l{i}.ln1_g"] = b("attention.output.LayerNorm.weight")
        out[f"l{i}.ln1_b"] = b("attention.output.LayerNorm.bias")
        out[f"l{i}.i_w"] = w("intermediate.dense", 4 * DIM, DIM)
        out[f"l{i}.i_b"] = b("intermediate.dense.bias", 4 * DIM)
        out[f"l{i}.f_w"] = w("output.dense", DIM, 4 * DIM)
        out[f"l{i}.f_b"] = b("output.dense.bias")
        out[f"l{i}.ln2_g"] = b("output.LayerNorm.weight")
        out[f"l{i}.ln2_b"] = b("output.LayerNorm.bias")
    return out


def build_fp32(safetensors_path: Path):
    """The fp32 ModelProto. Inputs: input_ids, attention_mask (int32, (batch, seq), right-padded).
    Output: pooled (float32, (batch, 384)), the masked mean of the last hidden state."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    t = _tensors(Path(safetensors_path))
    inits = [numpy_helper.from_array(arr.astype(np.float32, copy=False), name) for name, arr in t.items()]
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"))
    inits.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"))
    nodes = [
        helper.make_node("EmbedLayerNormalization",
                         ["input_ids", "", "word", "pos", "", "emb_ln_g", "emb_ln_b", "attention_mask"],
                         ["h0", "mask_index"], domain=MS_DOMAIN, epsilon=LN_EPS, name="embed"),
    ]
    h = "h0"
    for i in range(LAYERS):
        p = f"l{i}."
        nodes += [
            helper.make_node("Attention", [h, p + "qkv_w", p + "qkv_b", "mask_index"], [p + "ctx"],
                             domain=MS_DOMAIN, num_heads=HEADS, name=p + "attention"),
            helper.make_node("MatMul", [p + "ctx", p + "o_w"], [p + "attn"], name=p + "attn_out"),
            helper.make_node("SkipLayerNormalization", [p + "attn", h, p + "ln1_g", p + "ln1_b", p + "o_b"],
                             [p + "h1"], domain=MS_DOMAIN, epsilon=LN_EPS, name=p + "ln1"),
            helper.make_node("MatMul", [p + "h1", p + "i_w"], [p + "inter"], name=p + "ffn_in"),
            helper.make_node("BiasGelu", [p + "inter", p + "i_b"], [p + "gelu"], domain=MS_DOMAIN,
                             name=p + "gelu"),
            helper.make_node("MatMul", [p + "gelu", p + "f_w"], [p + "ffn"], name=p + "ffn_out"),
            helper.make_node("SkipLayerNormalization", [p + "ffn", p + "h1", p + "ln2_g", p + "ln2_b", p + "f_b"],
                             [p + "h2"], domain=MS_DOMAIN, epsilon=LN_EPS, name=p + "ln2"),
        ]
        h = p + "h2"
    nodes += [  # mean over the unmasked tokens
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask_3d"]),
        helper.make_node("Mul", [h, "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask_f", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
    ]
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "seq"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", DIM])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
                              producer_name="cidx", producer_version=str(BUILDER_VERSION))
    model.ir_version = 8  # what every ORT >= 1.10 loads
    return model


def build_bytes(variant: str, safetensors_path: Path) -> bytes:
    """The serialized `variant` model (the cache writes it atomically)."""
    if variant not in VARIANTS:
        raise EmbeddingError(f"unknown ONNX variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    import onnx

    model = build_fp32(safetensors_path)
    if variant == "fp32":
        return model.SerializeToString()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The graph already has the fused form that the quantizer's pre-processing step would produce;
    # the tag says so (otherwise quantize_dynamic logs a warning through the root logger).
    onnx.helper.set_model_props(model, {"onnx.quant.pre_process": "onnxruntime.quant"})
    with tempfile.TemporaryDirectory(prefix=".cidx-quant-") as tmp:
        out = Path(tmp) / "int8.onnx"
        # Shape inference does not type the contrib ops' outputs: tell the quantizer they are float.
        quantize_dynamic(model, out, op_types_to_quantize=["MatMul", "Attention"], per_channel=True,
                         weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        return out.read_bytes()
