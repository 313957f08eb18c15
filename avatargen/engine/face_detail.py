"""The face-detail pass: where the face is small, it is cropped with context, upscaled, partly re-denoised with the
OpenPose ControlNet on the pose's same crop, a face prompt and the identity adapter stronger, and blended back through
a feathered mask. Imports `engine.identity` (face boxes); torch only inside the pass, which finds no faces itself:
they are found before it (outside ZeroGPU's fork, see `engine.zerogpu`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image

from avatargen.engine.identity import FaceBox, square_around

if TYPE_CHECKING:
    from diffusers import StableDiffusionControlNetInpaintPipeline

FACE_DETAIL_FRAMINGS = ("three-quarter", "full-body")  # under "auto": the framings where the face is small
FACE_DETAIL_SIZE = 512  # side of the upscaled face crop; a face whose crop is already larger is left as it is
FACE_DETAIL_STRENGTH = 0.4  # the share of the steps the pass re-denoises
FACE_DETAIL_CONTEXT = 2.0  # the crop's side over the face box's longer side
FACE_DETAIL_MASK = 1.2  # the repainted ellipse's size over the face box's
FACE_DETAIL_IDENTITY_GAIN = 1.3  # identity strength in the pass over the main pass's, capped at 1
# the crop shows a face, not the pose's whole body: a prompt that says so (the style stays, the body goes)
FACE_PROMPT = "close-up portrait of a face, detailed eyes, natural skin texture"

# Finds the face in an output image (the largest one), or None
FaceFinder = Callable[[Image.Image], "FaceBox | None"]

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels


def face_detail_steps(steps: int) -> int:
    """Denoising steps the face-detail pass runs for a generation of `steps`: the share `FACE_DETAIL_STRENGTH`."""
    # as diffusers' `get_timesteps` counts them
    return min(int(steps * FACE_DETAIL_STRENGTH), steps)


def wants_face_detail(mode: str, framing: str | None) -> bool:
    """Whether a request of `framing` gets the face-detail pass under `mode` ("auto", "on" or "off")."""
    return mode == "on" or (mode == "auto" and framing in FACE_DETAIL_FRAMINGS)


def face_prompt(prompt: str, given: str | None = None) -> str:
    """The face pass's prompt: `given` (the style's words with `FACE_PROMPT`), else `FACE_PROMPT` before `prompt`."""
    return given if given is not None else f"{FACE_PROMPT}, {prompt}"


def repaint_faces(
    pipe: StableDiffusionControlNetInpaintPipeline,
    images: list[Image.Image],
    poses: list[Image.Image],
    faces: list[FaceBox],
    *,
    seeds: list[int],
    conditioning: dict[str, Any],
    steps: int,
    guidance_scale: float,
    pose_strength: float,
    on_step_end: Callable[..., Any],
    identity_strength: float | None,
) -> list[Image.Image]:
    """`images` with the small face in each (`faces`, one per image) repainted by `pipe`; the others as they are.

    Args:
        pipe: the ControlNet inpainting pipeline (one identity per prompt), on the main pipeline's components.
        poses: each image's OpenPose conditioning image, the size of the image: its crop steers the face's pose.
        seeds: each image's request seed.
        conditioning: the pipeline arguments (face prompts, identity) of the images, in order.
        steps, guidance_scale, pose_strength: the main pass's; the pass runs `face_detail_steps(steps)` of them.
        identity_strength: the main pass's identity adapter scale, raised for the pass and restored after;
            None without an identity adapter.
    """
    import torch

    boxes = [face_window(face, image.size) for face, image in zip(faces, images, strict=True)]
    if any(box is None for box in boxes):
        raise ValueError("A face fills more than the face-detail size: leave it out (see `face_window`).")
    side = (FACE_DETAIL_SIZE, FACE_DETAIL_SIZE)
    windows = [image.crop(box).resize(side, Image.Resampling.LANCZOS) for image, box in zip(images, boxes, strict=True)]
    # the pose's same window steers the face's turn and tilt, as it did the body's
    controls = [
        pose.convert("RGB").crop(box).resize(side, Image.Resampling.BILINEAR)
        for pose, box in zip(poses, boxes, strict=True)
    ]
    masks = [_face_mask(face, box) for face, box in zip(faces, boxes, strict=True)]
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    if identity_strength is not None:
        pipe.set_ip_adapter_scale(max(identity_strength, min(1.0, identity_strength * FACE_DETAIL_IDENTITY_GAIN)))
    try:
        with torch.inference_mode():
            output = pipe(
                image=windows,
                mask_image=masks,
                control_image=controls,
                width=FACE_DETAIL_SIZE,
                height=FACE_DETAIL_SIZE,
                strength=FACE_DETAIL_STRENGTH,
                num_inference_steps=steps,
                guidance_scale=guidance_scale,
                controlnet_conditioning_scale=pose_strength,
                generator=generators,
                output_type="pil",
                callback_on_step_end=on_step_end,
                **conditioning,
            )
    finally:
        if identity_strength is not None:
            pipe.set_ip_adapter_scale(identity_strength)
    return [
        _blend(image, window, mask, box)
        for image, window, mask, box in zip(images, output.images, masks, boxes, strict=True)
    ]


def _blend(image: Image.Image, window: Image.Image, mask: Image.Image, box: Box) -> Image.Image:
    # the repainted window scaled back into its box, through the feathered mask
    size = (box[2] - box[0], box[3] - box[1])
    result = image.copy()
    window = window.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    result.paste(window, box[:2], mask.resize(size, Image.Resampling.LANCZOS))
    return result


def face_window(face: FaceBox, size: tuple[int, int]) -> Box | None:
    """The square around `face` with context, inside an image of `size`; None when it needs no upscaling."""
    side = FACE_DETAIL_CONTEXT * max(face.width, face.height)
    if side > FACE_DETAIL_SIZE:
        return None
    return square_around((face.left + face.right) / 2, (face.top + face.bottom) / 2, side, *size)


def _face_mask(face: FaceBox, window: Box) -> Image.Image:
    # the face's ellipse, enlarged and feathered, on the upscaled window: white is repainted
    from PIL import ImageDraw, ImageFilter

    scale = FACE_DETAIL_SIZE / (window[2] - window[0])
    cx = ((face.left + face.right) / 2 - window[0]) * scale
    cy = ((face.top + face.bottom) / 2 - window[1]) * scale
    rx, ry = face.width * FACE_DETAIL_MASK * scale / 2, face.height * FACE_DETAIL_MASK * scale / 2
    mask = Image.new("L", (FACE_DETAIL_SIZE, FACE_DETAIL_SIZE), 0)
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(FACE_DETAIL_SIZE / 32))
