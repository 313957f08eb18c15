"""Pose library: templates from poses/templates.parquet, faceted search, canvas framing and OpenPose rendering."""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from avatargen.errors import UnknownPose

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "poses" / "templates.parquet"
ASPECT = 2 / 3  # template canvas width : height

# COCO-18, the order OpenPose and ControlNet use.
# fmt: off
KEYPOINT_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# fmt: on
CATEGORIES = ("standing", "walking", "sitting", "leaning", "portrait", "action", "fashion")
GENDERS = ("female", "male", "unisex")
VIEWS = ("front", "three-quarter-left", "three-quarter-right", "side-left", "side-right", "back")
FRAMINGS = ("full-body", "three-quarter", "half-body", "head-shoulders")
FACETS = ("category", "gender", "view", "framing")
_VOCABULARY = dict(zip(FACETS, (CATEGORIES, GENDERS, VIEWS, FRAMINGS), strict=True))

THUMBNAIL_BACKGROUND = (40, 42, 48)  # neutral dark grey: every OpenPose colour stays readable on it
_THUMBNAIL_SCALE = 1.6  # drawn this much smaller, then enlarged: limbs come out thicker
_THUMBNAIL_VERSION = 1  # bump when the thumbnail drawing changes, so cached files re-render


@dataclass(frozen=True)
class PoseTemplate:
    """One pose: facets to filter on and 18 OpenPose body keypoints on a 2:3 canvas.

    `owner` is None for the shared library and the owning user's id for a private custom pose.
    """

    id: str
    name: str
    category: str
    gender: str  # body proportions: female, male or unisex
    view: str
    framing: str
    tags: tuple[str, ...]
    keypoints: tuple[tuple[float, float, float], ...]  # COCO-18 (x, y, visibility); x, y in [0, 1]
    owner: int | None = None

    def to_public(self) -> dict:
        """JSON-ready record (camelCase keys), as the API returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "gender": self.gender,
            "view": self.view,
            "framing": self.framing,
            "tags": list(self.tags),
            "keypoints": [list(k) for k in self.keypoints],
            "owner": self.owner,
            "private": self.owner is not None,
        }


class PoseLibrary:
    """The shared pose templates, in memory, looked up by id and filtered by facets and words."""

    def __init__(self, templates: Iterable[PoseTemplate]):
        self._templates = tuple(templates)
        self._by_id: dict[str, PoseTemplate] = {}
        for t in self._templates:
            if t.id in self._by_id:
                raise ValueError(f"duplicate pose id {t.id!r}")
            self._by_id[t.id] = t
        self._text = {t.id: _search_text(t) for t in self._templates}

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> PoseLibrary:
        """Read a template file (parquet) through `datasets`, fully in memory, without the hub.

        Rows with an owner (private custom poses) are not part of the shared library and are skipped.
        """
        import datasets

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no pose library at {path}: run `python poses/build.py`")
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            # A throwaway cache dir: nothing is written under ~/.cache, nothing stale is ever read back.
            with tempfile.TemporaryDirectory(prefix="avatargen-poses-") as cache_dir:
                ds = datasets.Dataset.from_parquet(str(path), keep_in_memory=True, cache_dir=cache_dir)
                records = ds.to_list()
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        return cls(_template(r, path) for r in records if r.get("owner") is None)

    def get(self, pose_id: str) -> PoseTemplate:
        """The template with this id; `UnknownPose` when there is none."""
        try:
            return self._by_id[pose_id]
        except (KeyError, TypeError):
            shown = repr(pose_id) if len(repr(pose_id)) <= 60 else repr(pose_id)[:57] + "..."
            raise UnknownPose(f"Unknown pose {shown}. Pick a pose from the gallery.") from None

    def __len__(self) -> int:
        return len(self._templates)

    def __iter__(self) -> Iterator[PoseTemplate]:
        return iter(self._templates)

    def __contains__(self, pose_id: object) -> bool:
        return isinstance(pose_id, str) and pose_id in self._by_id

    def facets(self) -> dict[str, list[str]]:
        """Each facet's distinct values in the library, sorted."""
        return {f: sorted({getattr(t, f) for t in self._templates}) for f in FACETS}

    def query(
        self,
        *,
        category: str | Sequence[str] | None = None,
        gender: str | Sequence[str] | None = None,
        view: str | Sequence[str] | None = None,
        framing: str | Sequence[str] | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        include: Sequence[PoseTemplate] = (),
    ) -> tuple[list[PoseTemplate], int]:
        """One page of the matching templates and how many match in all.

        A facet given as a list matches any of its values; None or empty means any. Every word of
        `search` must appear (case-insensitively, as a substring) in the name or a tag. `include`
        adds templates that are not in the library (a person's private poses): they go through the
        same filters and search, and come first, in the order given, then the library in its order.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = [(f, vs) for f, v in zip(FACETS, (category, gender, view, framing), strict=True) if (vs := _values(v))]
        words = (search or "").lower().split()
        found = [t for t in include if _matches(t, wanted, words, _search_text(t))]
        found += [t for t in self._templates if _matches(t, wanted, words, self._text[t.id])]
        return found[offset : offset + limit], len(found)


FACE_POINTS = ("nose", "r_eye", "l_eye", "r_ear", "l_ear")


def canvas_box(points: Mapping[str, Sequence[float]], framing: str) -> tuple[float, float, float]:
    """Where the 2:3 canvas of a framing goes around a person: (left, top, height), in the points' units.

    `points` maps the 18 keypoint names (y downwards; hidden joints too, where they are estimated) and
    `head_top` to positions; full-body framing also uses `r_foot` and `l_foot` (the soles) when given.
    Full body: everything with margins. Three-quarter: down to mid-thigh. Half body: just below the
    hips. Head and shoulders: from above the head to a third of the torso below the neck. A raised
    hand stays in the picture, and the canvas widens a little (keeping its top) rather than cut arms off.
    Library templates and poses extracted from photos are framed by this same rule.
    """
    if framing not in FRAMINGS:
        raise ValueError(f"framing {framing!r} is not one of {FRAMINGS}")
    xs = {n: float(p[0]) for n, p in points.items()}
    ys = {n: float(p[1]) for n, p in points.items()}
    limbs = [n for n in KEYPOINT_NAMES if n not in FACE_POINTS]
    hip = ((xs["r_hip"] + xs["l_hip"]) / 2, (ys["r_hip"] + ys["l_hip"]) / 2)
    torso = math.dist((xs["neck"], ys["neck"]), hip)
    head_top = ys["head_top"]

    if framing == "full-body":
        top, bottom = min(ys.values()), max(ys.values())
        height = max((bottom - top) / 0.88, (max(xs.values()) - min(xs.values())) / (ASPECT * 0.9))
        centre_x, centre_y = (max(xs.values()) + min(xs.values())) / 2, (top + bottom) / 2 - 0.01 * height
        return centre_x - height * ASPECT / 2, centre_y - height / 2, height

    if framing == "head-shoulders":
        bottom = ys["neck"] + 0.35 * torso
        top = head_top - 0.12 * (bottom - head_top)
        keep = ["r_shoulder", "l_shoulder", "neck", "head_top", *FACE_POINTS]
    else:
        if framing == "half-body":
            bottom = hip[1] + 0.22 * torso
        else:  # three-quarter: cut mid-thigh, and at least half a torso below the hips (sitting)
            thighs = [ys[f"{s}_hip"] + 0.6 * (ys[f"{s}_knee"] - ys[f"{s}_hip"]) for s in "lr"]
            bottom = max(*thighs, hip[1] + 0.45 * torso)
        top = min(head_top, *(ys[n] for n in limbs))  # a hand above the head stays in the picture
        top -= 0.07 * (bottom - top)
        keep = [n for n in ys if top <= ys[n] <= bottom]
    height = bottom - top
    kept = [xs[n] for n in keep]
    width_needed = (max(kept) - min(kept)) / (0.97 if framing == "head-shoulders" else 0.9)
    if width_needed > height * ASPECT:  # widen a little (keeping the top) rather than cut arms off
        height = min(width_needed / ASPECT, height * 1.25)
    centre_x = (max(kept) + min(kept)) / 2
    return centre_x - height * ASPECT / 2, top, height


def to_canvas(
    points: Mapping[str, Sequence[float]], seen: Iterable[str], framing: str
) -> tuple[tuple[float, float, float], ...]:
    """The 18 COCO-18 keypoints (x, y, visibility) of a person framed on the 2:3 canvas (see `canvas_box`).

    A keypoint is visible when it is in `seen` and inside the canvas; otherwise it is (0, 0, 0),
    OpenPose's convention for a missing keypoint. Coordinates are rounded to 4 decimals.
    """
    left, top, height = canvas_box(points, framing)
    width = height * ASPECT
    seen = set(seen)
    out = []
    for name in KEYPOINT_NAMES:
        x = round((float(points[name][0]) - left) / width, 4)
        y = round((float(points[name][1]) - top) / height, 4)
        visible = name in seen and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        out.append((x, y, 1.0) if visible else (0.0, 0.0, 0.0))
    return tuple(out)


def render_openpose(template: PoseTemplate, width: int, height: int) -> Image.Image:
    """The ControlNet conditioning image: the skeleton in OpenPose colours on black (RGB).

    The template's 2:3 canvas is fitted into width x height, centred, keeping its aspect.
    """
    import numpy as np
    from PIL import Image

    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    draw_bodypose, keypoint = _openpose_drawing()
    canvas_w = min(width, height * ASPECT)
    canvas_h = canvas_w / ASPECT
    left, top = (width - canvas_w) / 2, (height - canvas_h) / 2
    points = [
        keypoint((left + x * canvas_w) / width, (top + y * canvas_h) / height) if v > 0 else None
        for x, y, v in template.keypoints
    ]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    return Image.fromarray(draw_bodypose(canvas, points))


def thumbnail_path(template: PoseTemplate, cache_dir: Path, size: tuple[int, int] = (192, 288)) -> Path:
    """A gallery thumbnail (thick-limbed skeleton on neutral grey) as a PNG, rendered once and cached.

    The file name carries the id, the size and a hash of the keypoints, so a changed template gets
    a new file; it is written atomically, so concurrent callers never see half a PNG.
    """
    width, height = size
    cache_dir = Path(cache_dir)
    digest = hashlib.sha256(repr((template.id, template.keypoints, _THUMBNAIL_VERSION)).encode()).hexdigest()
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", template.id)[:80]
    path = cache_dir / f"{safe_id}-{width}x{height}-{digest[:12]}.png"
    if path.is_file():
        return path
    image = thumbnail_image(template, width, height)
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


def thumbnail_image(template: PoseTemplate, width: int = 192, height: int = 288) -> Image.Image:
    """The gallery picture of a pose, drawn now (`thumbnail_path` caches it for library templates)."""
    import numpy as np
    from PIL import Image

    # controlnet-aux draws limbs a fixed 8 px wide: draw small, then enlarge, for thicker limbs.
    small = (max(1, round(width / _THUMBNAIL_SCALE)), max(1, round(height / _THUMBNAIL_SCALE)))
    pixels = np.asarray(render_openpose(template, *small))
    background = np.array(THUMBNAIL_BACKGROUND, dtype=np.uint8)
    pixels = np.where(pixels.any(axis=2, keepdims=True), pixels, background)
    return Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC)


@cache
def _openpose_drawing():
    # controlnet_aux imports torch and every annotator, noisily: once, and quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.body import Keypoint
        from controlnet_aux.open_pose.util import draw_bodypose
    return draw_bodypose, Keypoint


def _search_text(template: PoseTemplate) -> str:
    return "\n".join((template.name, *template.tags)).lower()


def _matches(template: PoseTemplate, wanted: list[tuple[str, frozenset[str]]], words: list[str], text: str) -> bool:
    return all(getattr(template, f) in vs for f, vs in wanted) and all(w in text for w in words)


def _values(value: str | Sequence[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value}) if value else frozenset()
    return frozenset(v for v in value if v)


def _template(row: dict, path: Path) -> PoseTemplate:
    where = f"{path}: pose {row.get('id')!r}"
    for facet, allowed in _VOCABULARY.items():
        if row.get(facet) not in allowed:
            raise ValueError(f"{where}: {facet} {row.get(facet)!r} is not one of {allowed}")
    points = row.get("keypoints") or []
    if len(points) != len(KEYPOINT_NAMES) or any(len(p) != 3 for p in points):
        raise ValueError(f"{where}: expected {len(KEYPOINT_NAMES)} keypoints of [x, y, visibility]")
    return PoseTemplate(
        id=row["id"],
        name=row["name"],
        category=row["category"],
        gender=row["gender"],
        view=row["view"],
        framing=row["framing"],
        tags=tuple(row.get("tags") or ()),
        keypoints=tuple((float(x), float(y), float(v)) for x, y, v in points),
    )
