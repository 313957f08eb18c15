"""Pictures of poses: the OpenPose conditioning image, gallery thumbnails (cached on disk), contact sheets.

Imports `poses.template` and `poses.framing`; numpy, PIL and controlnet-aux only when drawing.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from avatargen.poses.framing import ASPECT
from avatargen.poses.template import KEYPOINT_NAMES, PoseTemplate

if TYPE_CHECKING:
    from PIL import Image

THUMBNAIL_BACKGROUND = (40, 42, 48)  # neutral dark grey: every OpenPose colour stays readable on it
_THUMBNAIL_SCALE = 1.6  # drawn this much smaller, then enlarged: limbs come out thicker
_THUMBNAIL_VERSION = 2  # bump when the thumbnail drawing changes, so cached files re-render


def render_openpose(template: PoseTemplate, width: int, height: int, *, mirror: bool = False) -> Image.Image:
    """The ControlNet conditioning image: the skeleton (and hands) in OpenPose colours on black (RGB).

    The template's 2:3 canvas is fitted into width x height, centred, keeping its aspect. With `mirror`,
    the mirror image (`PoseTemplate.mirrored`): the gallery's and the API's mirror switch.
    """
    import numpy as np
    from PIL import Image

    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if mirror:
        template = template.mirrored()
    draw_bodypose, draw_handpose, keypoint = _openpose_drawing()
    canvas_w = min(width, height * ASPECT)
    canvas_h = canvas_w / ASPECT
    left, top = (width - canvas_w) / 2, (height - canvas_h) / 2

    def place(points, missing):
        return [
            keypoint((left + x * canvas_w) / width, (top + y * canvas_h) / height) if v > 0 else missing
            for x, y, v in points
        ]

    canvas = draw_bodypose(np.zeros((height, width, 3), dtype=np.uint8), place(template.keypoints, None))
    for hand in template.hands or ():
        if any(v for _, _, v in hand):  # controlnet-aux skips a hand point at (0, 0), and fails on None
            canvas = draw_handpose(canvas, place(hand, keypoint(0.0, 0.0)))
    return Image.fromarray(canvas)


def thumbnail_path(
    template: PoseTemplate, cache_dir: Path, size: tuple[int, int] = (192, 288), *, mirror: bool = False
) -> Path:
    """A gallery thumbnail (thick-limbed skeleton on neutral grey) as a PNG, rendered once and cached.

    The file name carries the id, the size, the mirror switch and a hash of the keypoints, so a changed
    template gets a new file; it is written atomically, so concurrent callers never see half a PNG.
    """
    width, height = size
    cache_dir = Path(cache_dir)
    key = (template.id, template.keypoints, template.hands, mirror, _THUMBNAIL_VERSION)
    digest = hashlib.sha256(repr(key).encode()).hexdigest()
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", template.id)[:80]
    path = cache_dir / f"{safe_id}{'-mirror' if mirror else ''}-{width}x{height}-{digest[:12]}.png"
    if path.is_file():
        return path
    image = thumbnail_image(template, width, height, mirror=mirror)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".thumb-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG", optimize=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def thumbnail_image(
    template: PoseTemplate, width: int = 192, height: int = 288, *, mirror: bool = False
) -> Image.Image:
    """The gallery picture of a pose, drawn now (`thumbnail_path` caches it for library templates)."""
    import numpy as np
    from PIL import Image

    # controlnet-aux draws limbs a fixed 8 px wide: draw small, then enlarge, for thicker limbs; hands the
    # other way round (large, then shrunk), so their fixed-size dots do not swallow the fingers.
    small = (max(1, round(width / _THUMBNAIL_SCALE)), max(1, round(height / _THUMBNAIL_SCALE)))
    body = replace(template, hands=None)
    pixels = np.asarray(render_openpose(body, *small, mirror=mirror).resize((width, height), Image.Resampling.BICUBIC))
    if template.hands is not None:
        only_hands = replace(template, keypoints=((0.0, 0.0, 0.0),) * len(KEYPOINT_NAMES))
        large = render_openpose(only_hands, 3 * width, 3 * height, mirror=mirror)
        hands = np.asarray(large.resize((width, height), Image.Resampling.BOX))
        pixels = np.where(hands.max(axis=2, keepdims=True) > 40, hands, pixels)
    background = np.array(THUMBNAIL_BACKGROUND, dtype=np.uint8)
    return Image.fromarray(np.where(pixels.any(axis=2, keepdims=True), pixels, background))


def contact_sheet(
    templates: Sequence[PoseTemplate], *, columns: int = 8, size: tuple[int, int] = (150, 225)
) -> Image.Image:
    """A grid of thumbnails, each with its name below: for looking at many poses at once."""
    from PIL import Image, ImageDraw

    width, height = size
    caption = 30
    rows = max(1, math.ceil(len(templates) / columns))
    sheet = Image.new("RGB", (columns * width, rows * (height + caption)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, t in enumerate(templates):
        x, y = (i % columns) * width, (i // columns) * (height + caption)
        sheet.paste(thumbnail_image(t, width, height), (x, y))
        words, lines = t.name.split(), [""]
        for word in words:
            if draw.textlength(f"{lines[-1]} {word}".strip()) > width - 4 and lines[-1]:
                lines.append(word)
            else:
                lines[-1] = f"{lines[-1]} {word}".strip()
        draw.multiline_text((x + 2, y + height + 1), "\n".join(lines[:2]), fill=(0, 0, 0), spacing=1)
    return sheet


@cache
def _openpose_drawing():
    # controlnet_aux imports torch and every annotator, noisily: once, and quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.body import Keypoint
        from controlnet_aux.open_pose.util import draw_bodypose, draw_handpose
    return draw_bodypose, draw_handpose, Keypoint
