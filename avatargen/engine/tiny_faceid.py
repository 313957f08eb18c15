"""The tiny stack's FaceID parts, built in code: random IP-Adapter-FaceID weights and an ArcFace-shaped ONNX model.

Saved beside the tiny pipeline in the hub repos' layouts (`ip-adapter-faceid/ip-adapter-faceid_sd15.bin` like
h94/IP-Adapter-FaceID, `arcface/models/buffalo_l/w600k_r50.onnx` like the insightface mirror), so the engine loads
them through the same calls as the real ones (`load_ip_adapter(..., image_encoder_folder=None)`, an onnxruntime
session). Built only when `AVATARGEN_IDENTITY=faceid` meets the tiny stack; imports torch, diffusers and onnx.
"""

import shutil
import uuid
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DConditionModel

from avatargen.engine.config import ARCFACE_WEIGHT, FACEID_WEIGHT
from avatargen.engine.faceid import ALIGNED_SIZE, EMBEDDING_SIZE
from avatargen.engine.tiny import ip_attention_weights

FACEID_FOLDER = "ip-adapter-faceid"  # like h94/IP-Adapter-FaceID
ARCFACE_FOLDER = "arcface"  # like the insightface models' hub mirror
_FACEID_TOKENS = 4  # as in the real adapter
_IP_STD = 0.5  # strong enough that the identity steers the tiny stack
_PATCH = 8  # the tiny ArcFace: one 8x8 strided convolution, then a linear layer to the embedding
_CHANNELS = 8


def faceid_weights(unet: UNet2DConditionModel, *, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Random IP-Adapter-FaceID weights for `unet`, in the layout of `ip-adapter-faceid_sd15.bin`: `image_proj`
    (a 512 → 1024 → tokens x cross-attention-dim MLP, `proj.0`/`proj.2`, and a LayerNorm `norm`) and `ip_adapter`
    (the key/value projections per cross-attention layer)."""
    torch.manual_seed(seed)
    width = unet.config.cross_attention_dim
    inner = 2 * EMBEDDING_SIZE
    image_proj = {
        "proj.0.weight": torch.randn(inner, EMBEDDING_SIZE) / EMBEDDING_SIZE**0.5,
        "proj.0.bias": torch.zeros(inner),
        "proj.2.weight": torch.randn(width * _FACEID_TOKENS, inner) / inner**0.5,
        "proj.2.bias": torch.zeros(width * _FACEID_TOKENS),
        "norm.weight": torch.ones(width),
        "norm.bias": torch.zeros(width),
    }
    return {"image_proj": image_proj, "ip_adapter": ip_attention_weights(unet, _IP_STD)}


def arcface_model(*, seed: int = 0) -> bytes:
    """An ONNX model shaped like insightface's ArcFace: (N, 3, 112, 112) float in, (N, 512) out, random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    cells = _CHANNELS * (ALIGNED_SIZE // _PATCH) ** 2
    conv = rng.standard_normal((_CHANNELS, 3, _PATCH, _PATCH)).astype(np.float32) / (3 * _PATCH * _PATCH) ** 0.5
    linear = rng.standard_normal((cells, EMBEDDING_SIZE)).astype(np.float32) / cells**0.5
    graph = helper.make_graph(
        [
            helper.make_node(
                "Conv", ["input.1", "conv"], ["features"], kernel_shape=[_PATCH, _PATCH], strides=[_PATCH] * 2
            ),
            helper.make_node("Relu", ["features"], ["active"]),
            helper.make_node("Flatten", ["active"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "linear"], ["683"]),
        ],
        "tiny-arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, ALIGNED_SIZE, ALIGNED_SIZE])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", EMBEDDING_SIZE])],
        [numpy_helper.from_array(conv, "conv"), numpy_helper.from_array(linear, "linear")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime this project pins
    onnx.checker.check_model(model)
    return model.SerializeToString()


def save_tiny_faceid(folder: Path, unet_folder: Path) -> Path:
    """Write the FaceID adapter (for the UNet saved in `unet_folder`) and the tiny ArcFace into `folder`, once.

    Written to a temporary sibling that is renamed into place, so concurrent callers never see half a folder."""
    folder = Path(folder)
    if (folder / ARCFACE_FOLDER / ARCFACE_WEIGHT).is_file():
        return folder
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        adapter = tmp / FACEID_FOLDER
        adapter.mkdir(parents=True)
        torch.save(faceid_weights(UNet2DConditionModel.from_pretrained(unet_folder)), adapter / FACEID_WEIGHT)
        model = tmp / ARCFACE_FOLDER / ARCFACE_WEIGHT
        model.parent.mkdir(parents=True)
        model.write_bytes(arcface_model())
        try:
            tmp.rename(folder)
        except OSError:  # another process renamed its copy first
            if not (folder / ARCFACE_FOLDER / ARCFACE_WEIGHT).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
