"""FaceID identity: an ArcFace embedding of the person's face, for IP-Adapter-FaceID (`AVATARGEN_IDENTITY=faceid`).

The face is aligned as insightface aligns it for its recognition models: five landmarks (the eyes' centres, the nose
tip, the mouth's corners; from MediaPipe's face mesh, run on the face MediaPipe's detector found) are mapped onto
ArcFace's 112x112 template by a similarity transform (least squares, Umeyama), drawn with PIL (no OpenCV). The
ArcFace ONNX model (insightface's buffalo_l `w600k_r50.onnx` by default: non-commercial) runs with onnxruntime on
the CPU and gives a 512-d embedding; several photos of one person give the mean of their normalised embeddings, as
IP-Adapter-FaceID documents. diffusers takes it as `ip_adapter_image_embeds` (`faceid_embeds`).

MediaPipe and onnxruntime hold native state and threads: like the identity crops, this runs where the engine's
inputs are prepared, never in a forked GPU process. Imports `engine.identity`; torch only inside `faceid_embeds`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from avatargen.engine.identity import FaceBox, find_face, square_around

if TYPE_CHECKING:
    import torch

ALIGNED_SIZE = 112  # ArcFace's input side
EMBEDDING_SIZE = 512
# insightface's `arcface_dst`: where the 5 points sit in an aligned 112x112 face (the photo's left eye first)
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
# face-mesh landmarks: the photo's left eye's corners, the right eye's, the nose tip, the mouth's left and right corner
_EYE_CORNERS = ((33, 133), (362, 263))
_NOSE_TIP = 1
_MOUTH_CORNERS = (61, 291)
_MESH_SIDE = 256  # the face crop the mesh sees, in pixels
_MESH_CONTEXT = 2.0  # the crop's side over the face box's

_mesh_lock = threading.Lock()
_mesh: Any = None


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) that maps `source` points closest to `target`
    in least squares (Umeyama's method)."""
    source_mean, target_mean = source.mean(0), target.mean(0)
    src, dst = source - source_mean, target - target_mean
    u, s, vt = np.linalg.svd(dst.T @ src / len(source))
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / src.var(0).sum()
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def align(image: Image.Image, points: np.ndarray, template: np.ndarray = TEMPLATE) -> Image.Image:
    """The aligned 112x112 face whose `points` (photo pixels) land on the `template` points (in its order)."""
    matrix = similarity(points, template)
    size = ALIGNED_SIZE
    # PIL maps each output pixel back into the photo: the inverse transform
    linear, shift = matrix[:, :2], matrix[:, 2]
    inverse = np.linalg.inv(linear)
    back = np.hstack([inverse, (-inverse @ shift)[:, None]])
    return image.transform((size, size), Image.Transform.AFFINE, tuple(back.ravel()), Image.Resampling.BILINEAR)


def _face_mesh() -> Any:
    global _mesh
    if _mesh is None:
        import mediapipe as mp

        _mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
    return _mesh


def five_points(image: Image.Image, face: FaceBox) -> np.ndarray | None:
    """The 5 alignment points of `face` in `image` (RGB, upright), from the face mesh; None if it finds no face."""
    box = square_around(
        (face.left + face.right) / 2,
        (face.top + face.bottom) / 2,
        _MESH_CONTEXT * max(face.width, face.height),
        image.width,
        image.height,
    )
    crop = image.crop(box).resize((_MESH_SIDE, _MESH_SIDE), Image.Resampling.BILINEAR)
    with _mesh_lock:
        found = _face_mesh().process(np.ascontiguousarray(np.asarray(crop))).multi_face_landmarks
    if not found:
        return None
    marks = np.array([(mark.x, mark.y) for mark in found[0].landmark]) * _MESH_SIDE
    points = np.array(
        [marks[list(corners)].mean(0) for corners in _EYE_CORNERS]
        + [marks[_NOSE_TIP]]
        + [marks[corner] for corner in _MOUTH_CORNERS]
    )
    return points * (box[2] - box[0]) / _MESH_SIDE + np.array(box[:2])


def aligned_face(photo: Image.Image) -> Image.Image:
    """The person's face, aligned for ArcFace: by the 5 mesh points; by the detector's eyes when the mesh finds
    none; the photo's central square scaled down when no face shows at all."""
    upright = ImageOps.exif_transpose(photo).convert("RGB")
    face = find_face(upright)
    if face is None:
        side = min(upright.size)
        box = square_around(upright.width / 2, upright.height / 2, side, upright.width, upright.height)
        return upright.crop(box).resize((ALIGNED_SIZE, ALIGNED_SIZE), Image.Resampling.LANCZOS)
    points = five_points(upright, face)
    if points is not None:
        return align(upright, points)
    if face.eyes is None:
        return upright.crop((face.left, face.top, face.right, face.bottom)).resize((ALIGNED_SIZE, ALIGNED_SIZE))
    return align(upright, np.array(face.eyes), TEMPLATE[:2])  # two points fix a similarity


class ArcFace:
    """An ArcFace recognition model (ONNX, 112x112 RGB in, 512-d out) run with onnxruntime on the CPU."""

    def __init__(self, model: str | Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self._lock = threading.Lock()

    def embed(self, faces: Sequence[Image.Image]) -> np.ndarray:
        """The normalised embeddings of aligned faces: (len(faces), 512)."""
        pixels = np.stack([np.asarray(face.convert("RGB"), dtype=np.float32) for face in faces])
        # insightface's preprocessing for these models: (x - 127.5) / 127.5, channels first
        blob = ((pixels - 127.5) / 127.5).transpose(0, 3, 1, 2)
        with self._lock:
            [embeddings] = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})
        return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    def identity(self, photos: Sequence[Image.Image]) -> np.ndarray:
        """One person's identity from their photos: the mean of their normalised embeddings, (512,)."""
        return self.embed([aligned_face(photo) for photo in photos]).mean(0)


def faceid_embeds(
    identities: Sequence[np.ndarray], *, guided: bool, device: Any, dtype: torch.dtype
) -> list[torch.Tensor]:
    """`ip_adapter_image_embeds` for one call: one identity per prompt, (batch, 1, 1, 512); under classifier-free
    guidance zeros first for the unconditional side, as diffusers' FaceID example makes them."""
    import torch

    positive = torch.stack([torch.from_numpy(np.asarray(i, dtype=np.float32)).reshape(1, 1, -1) for i in identities])
    embeds = torch.cat([torch.zeros_like(positive), positive]) if guided else positive
    return [embeds.to(device=device, dtype=dtype)]
