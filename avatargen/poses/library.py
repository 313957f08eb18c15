"""Pose library: templates (avatargen/poses/templates.parquet), ranked search, canvas framing, OpenPose rendering."""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from avatargen.errors import UnknownPose

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_PATH = Path(__file__).resolve().with_name("templates.parquet")  # package data, built by poses/build.py
ASPECT = 2 / 3  # template canvas width : height

# COCO-18, the order OpenPose and ControlNet use.
# fmt: off
KEYPOINT_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# fmt: on
CATEGORIES = ("standing", "walking", "sitting", "lying", "leaning", "portrait", "action", "fashion")
GENDERS = ("female", "male", "unisex")
VIEWS = ("front", "three-quarter-left", "three-quarter-right", "side-left", "side-right", "back")
FRAMINGS = ("full-body", "three-quarter", "half-body", "head-shoulders")
FACETS = ("category", "gender", "view", "framing")
_VOCABULARY = dict(zip(FACETS, (CATEGORIES, GENDERS, VIEWS, FRAMINGS), strict=True))
VIEW_LABEL = {v: v.replace("-left", " left").replace("-right", " right") for v in VIEWS}
FRAMING_LABEL = {
    "full-body": "full body",
    "three-quarter": "three-quarter length",
    "half-body": "half body",
    "head-shoulders": "head and shoulders",
}
FORMAT_VERSION = 3  # of the record: 3 added `basePose` and `hands`
HAND_POINTS = 21  # OpenPose hand keypoints: the wrist, then four per finger from the thumb to the little finger
# The index each keypoint takes in the mirror image (the person's right and left swap).
MIRROR_INDEX = tuple(
    KEYPOINT_NAMES.index(n.replace("r_", "l_", 1) if n[:2] == "r_" else n.replace("l_", "r_", 1))
    for n in KEYPOINT_NAMES
)

THUMBNAIL_BACKGROUND = (40, 42, 48)  # neutral dark grey: every OpenPose colour stays readable on it
_THUMBNAIL_SCALE = 1.6  # drawn this much smaller, then enlarged: limbs come out thicker
_THUMBNAIL_VERSION = 2  # bump when the thumbnail drawing changes, so cached files re-render


@dataclass(frozen=True)
class PoseTemplate:
    """One pose: facets to filter on, 18 OpenPose body keypoints on a 2:3 canvas, and maybe hands.

    `owner` is None for the shared library and the owning user's id for a private custom pose.
    `base_pose` names the pose a library template shows (its other templates show it from other views
    and framings); `hands` are the right and the left hand's 21 OpenPose keypoints each, or None.
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
    base_pose: str = ""  # empty for a custom pose: it is its own base pose
    hands: tuple[tuple[tuple[float, float, float], ...], ...] | None = None  # (right, left), 21 (x, y, v) each

    @property
    def base(self) -> str:
        """The base pose this template shows (a custom pose's own id)."""
        return self.base_pose or self.id

    def to_public(self) -> dict:
        """JSON-ready record (camelCase keys), as the API returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "basePose": self.base,
            "category": self.category,
            "gender": self.gender,
            "view": self.view,
            "framing": self.framing,
            "tags": list(self.tags),
            "keypoints": [list(k) for k in self.keypoints],
            "hands": None if self.hands is None else [[list(k) for k in hand] for hand in self.hands],
            "formatVersion": FORMAT_VERSION,
            "owner": self.owner,
            "private": self.owner is not None,
        }

    def mirrored(self) -> PoseTemplate:
        """The mirror image (the person's right and left swapped, x flipped): the same id and facets."""

        def flip(points):
            return tuple((round(1.0 - x, 4), y, v) if v else (x, y, v) for x, y, v in points)

        body = flip(self.keypoints)
        hands = None if self.hands is None else (flip(self.hands[1]), flip(self.hands[0]))
        view = self.view.replace("left", "right") if "left" in self.view else self.view.replace("right", "left")
        return replace(self, view=view, keypoints=tuple(body[i] for i in MIRROR_INDEX), hands=hands)


class PoseLibrary:
    """The shared pose templates, in memory, looked up by id, filtered by facets and searched by words."""

    def __init__(self, templates: Iterable[PoseTemplate]):
        self._templates = tuple(templates)
        self._by_id: dict[str, PoseTemplate] = {}
        self._by_base: dict[str, list[PoseTemplate]] = {}
        for t in self._templates:
            if t.id in self._by_id:
                raise ValueError(f"duplicate pose id {t.id!r}")
            self._by_id[t.id] = t
            self._by_base.setdefault(t.base, []).append(t)
        self._index: dict[str, dict[int, float]] = {}  # word -> {template position: how well it matches}
        self._pairs: dict[tuple[str, str], set[int]] = {}  # two words in a row in a name -> template positions
        for i, t in enumerate(self._templates):
            for word, weight in _index_words(t).items():
                self._index.setdefault(word, {})[i] = weight
            for pair in _pairs(t):
                self._pairs.setdefault(pair, set()).add(i)

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

    def base_poses(self) -> list[str]:
        """The library's base poses, in gallery order."""
        return list(self._by_base)

    def variants(self, base_pose: str) -> list[PoseTemplate]:
        """Every template of one base pose (its views, framings and arm or leg variations), in gallery order."""
        return list(self._by_base.get(base_pose, ()))

    def grouped_record(self, template: PoseTemplate) -> dict:
        """`template.to_public()` plus what its base pose offers: `views`, `framings` and its `variants`
        (id, name, view and framing of each of its templates), for a gallery with a view/framing switcher."""
        variants = self._by_base.get(template.base_pose, [template]) if template.owner is None else [template]
        return template.to_public() | {
            "views": [v for v in VIEWS if any(t.view == v for t in variants)],
            "framings": [f for f in FRAMINGS if any(t.framing == f for t in variants)],
            "variants": [{"id": t.id, "name": t.name, "view": t.view, "framing": t.framing} for t in variants],
        }

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
        group: bool = False,
    ) -> tuple[list[PoseTemplate], int]:
        """One page of the matching templates and how many match in all.

        A facet given as a list matches any of its values; None or empty means any. `search` is words:
        each must match a whole word of the template's name, tags or facets (after stemming and synonyms:
        "sitting" finds "seated", "jumping" finds "jump"); the best matches come first (a word of the
        pose's name counts more than a tag, a tag more than a facet such as "profile"), then gallery order.
        `include` adds templates that are not in the library (a person's private poses): they go through
        the same filters and search, and come first, in the order given. With `group`, only the best
        template of each base pose is listed, and the total counts base poses.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = [(f, vs) for f, v in zip(FACETS, (category, gender, view, framing), strict=True) if (vs := _values(v))]
        words = list(dict.fromkeys(search_words(search or "")))
        found = [t for t in include if _facets_match(t, wanted) and _score(t, words) is not None]
        if words:
            scores = self._scores(words)
            ranked = sorted(scores, key=lambda i: (-scores[i], i))
            found += [t for i in ranked if _facets_match(t := self._templates[i], wanted)]
        else:
            found += [t for t in self._templates if _facets_match(t, wanted)]
        if group:
            seen: set[str] = set()
            found = [t for t in found if not (t.base in seen or seen.add(t.base))]
        return found[offset : offset + limit], len(found)

    def _scores(self, words: list[str]) -> dict[int, float]:
        scores: dict[int, float] | None = None
        for word in words:
            hits = self._index.get(word, {})
            scores = dict(hits) if scores is None else {i: s + hits[i] for i, s in scores.items() if i in hits}
            if not scores:
                return {}
        # The words in the order asked, in a name: "arms up", not "knee up, arm".
        for pair in itertools.pairwise(words):
            for i in self._pairs.get(pair, ()) & scores.keys():
                scores[i] += _PHRASE
        return scores or {}


# Search: words are lower-cased, stemmed and mapped to one word per meaning, in the index and in queries alike.
_STOP_WORDS = frozenset("a an and at by for from her his in into is it its of on one the their to with".split())
_IRREGULAR = {"lying": "lie", "lay": "lie", "laying": "lie", "lies": "lie", "sat": "sit", "seated": "sit"}
_IRREGULAR |= {"knelt": "kneel", "leapt": "leap", "sunglasses": "sunglass", "glasses": "glass", "men": "man"}
_IRREGULAR |= {"women": "woman", "feet": "foot", "standing": "stand", "crossed": "cross"}
_SYNONYMS = (
    ("sit", "seat", "sitting"),
    ("lie", "recline", "reclining", "lying"),
    ("jump", "leap", "hop"),
    ("phone", "mobile", "smartphone", "cellphone", "cell"),
    ("walk", "stroll", "strolling"),
    ("twirl", "spin", "spinning", "whirl"),
    ("crouch", "squat", "squatting"),
    ("laugh", "laughing", "giggle"),
    ("smile", "smiling", "grin"),
    ("dance", "dancing", "dancer"),
    ("run", "running", "jog", "sprint"),
    ("bag", "handbag", "purse", "tote", "clutch"),
    ("sunglass", "shade"),
    ("coffee", "cup", "mug"),
    ("jacket", "blazer", "coat"),
    ("hat", "cap"),
    ("stair", "step"),
    ("rail", "railing", "balustrade"),
    ("wall", "brick"),
    ("raise", "raised", "overhead"),
    ("woman", "female", "feminine", "girl", "lady"),
    ("man", "male", "masculine", "guy"),
)


def _stem(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "ls":
            word = word[:-1]  # sitting -> sit, running -> run
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "ls":
            word = word[:-1]
    elif len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]  # dance and danc(ing) alike
    return word


_CANONICAL = {_stem(w): _stem(group[0]) for group in _SYNONYMS for w in group}


def search_words(text: str) -> list[str]:
    """The words of `text` as search compares them: lower-cased, stemmed, synonyms made one, stop words out."""
    out = []
    for word in re.findall(r"[a-z0-9]+", re.sub(r"close[\s-]+up", "closeup", text.lower())):
        if word not in _STOP_WORDS:
            stem = _stem(word)
            out.append(_CANONICAL.get(stem, stem))
    return out


_NAME, _TAG, _FACET, _PHRASE = 3.0, 1.0, 0.5, 2.0  # how much a word counts where found; two in a row in a name
_FACET_WORDS = {
    "front": "front facing",
    "three-quarter-left": "three quarter left angled",
    "three-quarter-right": "three quarter right angled",
    "side-left": "side left profile",
    "side-right": "side right profile",
    "back": "back behind",
    "full-body": "full body length",
    "three-quarter": "three quarter length knees",
    "half-body": "half body waist",
    "head-shoulders": "head shoulders headshot closeup portrait",
    "female": "female",
    "male": "male",
    "unisex": "unisex",
}


def _title(template: PoseTemplate) -> str:
    # The name without the view and framing the build adds to it (those are facets).
    name = template.name
    for label in (FRAMING_LABEL.get(template.framing, ""), VIEW_LABEL.get(template.view, "")):
        name = name.removesuffix(f", {label}")
    return name


def _index_words(template: PoseTemplate) -> dict[str, float]:
    weights: dict[str, float] = {}
    facets = " ".join(_FACET_WORDS.get(getattr(template, f), "") for f in ("view", "framing", "gender"))
    for text, weight in ((facets, _FACET), (" ".join((template.category, *template.tags)), _TAG)):
        weights |= dict.fromkeys(search_words(text), weight)
    weights |= dict.fromkeys(search_words(_title(template)), _NAME)
    return weights


def _pairs(template: PoseTemplate) -> set[tuple[str, str]]:
    words = search_words(_title(template))
    return set(itertools.pairwise(words))


def _score(template: PoseTemplate, words: list[str]) -> float | None:
    weights = _index_words(template)
    if not all(w in weights for w in words):
        return None
    pairs = _pairs(template)
    return sum(weights[w] for w in words) + _PHRASE * sum(p in pairs for p in itertools.pairwise(words))


FACE_POINTS = ("nose", "r_eye", "l_eye", "r_ear", "l_ear")


def canvas_box(points: Mapping[str, Sequence[float]], framing: str) -> tuple[float, float, float]:
    """Where the 2:3 canvas of a framing goes around a person: (left, top, height), in the points' units.

    `points` maps the 18 keypoint names (y downwards; hidden joints too, where they are estimated) and
    `head_top` to positions; full-body framing also uses `r_foot` and `l_foot` (the soles) when given.
    Full body: everything with margins. Three-quarter: down to mid-thigh. Half body: just below the
    hips. Head and shoulders: from above the head to a third of the torso below the neck, or down to the elbow
    of a hand raised into the picture. A raised hand stays in the picture, and the canvas widens a little
    (keeping its top) rather than cut arms off.
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
        keep = ["r_shoulder", "l_shoulder", "neck", "head_top", *FACE_POINTS]
        for s in "rl":  # a hand raised into the picture brings its elbow: never a wrist without its arm
            if ys[f"{s}_wrist"] <= bottom and ys[f"{s}_elbow"] <= ys["neck"] + 0.8 * torso:
                bottom = max(bottom, ys[f"{s}_elbow"] + 0.08 * torso)
                keep += [f"{s}_elbow", f"{s}_wrist"]
        top = min(head_top, *(ys[n] for n in keep)) - 0.12 * (bottom - head_top)
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
        height = min(width_needed / ASPECT, height * (1.5 if framing == "head-shoulders" else 1.25))
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


def _facets_match(template: PoseTemplate, wanted: list[tuple[str, frozenset[str]]]) -> bool:
    return all(getattr(template, f) in vs for f, vs in wanted)


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
    hands = row.get("hands")
    if hands is not None and (len(hands) != 2 or any(len(h) != HAND_POINTS for h in hands)):
        raise ValueError(f"{where}: expected two hands of {HAND_POINTS} keypoints")
    return PoseTemplate(
        id=row["id"],
        name=row["name"],
        category=row["category"],
        gender=row["gender"],
        view=row["view"],
        framing=row["framing"],
        tags=tuple(row.get("tags") or ()),
        keypoints=tuple((float(x), float(y), float(v)) for x, y, v in points),
        base_pose=row.get("base_pose") or "",
        hands=None if hands is None else tuple(tuple((float(x), float(y), float(v)) for x, y, v in h) for h in hands),
    )
