"""Pose library: templates from poses/templates.parquet, faceted search, and OpenPose rendering."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
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
    """One pose: facets to filter on and 18 OpenPose body keypoints on a 2:3 canvas."""

    id: str
    name: str
    category: str
    gender: str  # body proportions: female, male or unisex
    view: str
    framing: str
    tags: tuple[str, ...]
    keypoints: tuple[tuple[float, float, float], ...]  # COCO-18 (x, y, visibility); x, y in [0, 1]

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
        self._text = {t.id: "\n".join((t.name, *t.tags)).lower() for t in self._templates}

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
    ) -> tuple[list[PoseTemplate], int]:
        """One page of the matching templates (library order) and how many match in all.

        A facet given as a list matches any of its values; None or empty means any. Every word of
        `search` must appear (case-insensitively, as a substring) in the name or a tag.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = {f: _values(v) for f, v in zip(FACETS, (category, gender, view, framing), strict=True) if _values(v)}
        words = (search or "").lower().split()
        found = [
            t
            for t in self._templates
            if all(getattr(t, f) in vs for f, vs in wanted.items()) and all(w in self._text[t.id] for w in words)
        ]
        return found[offset : offset + limit], len(found)


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
    image = _thumbnail(template, width, height)
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


def _thumbnail(template: PoseTemplate, width: int, height: int) -> Image.Image:
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
