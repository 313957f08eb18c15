"""The pose library: the shared templates (avatargen/poses/templates.parquet) loaded, looked up, filtered, searched.

Imports `avatargen.errors`, `poses.template` and `poses.search`; `datasets` only while loading.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from avatargen.errors import UnknownPose
from avatargen.poses.search import SearchIndex, rank_key, search_words
from avatargen.poses.template import FACET_VALUES, FACETS, FRAMINGS, HAND_POINTS, KEYPOINT_NAMES, VIEWS, PoseTemplate

DEFAULT_PATH = Path(__file__).resolve().with_name("templates.parquet")  # package data, built by poses/build.py
ALIASES_PATH = DEFAULT_PATH.with_name(
    "aliases.json"
)  # ids earlier libraries published → current ids (poses/aliases.py)


class PoseLibrary:
    """The shared pose templates, in memory, looked up by id, filtered by facets and searched by words."""

    def __init__(self, templates: Iterable[PoseTemplate], *, aliases: Mapping[str, str] | None = None):
        self._templates = tuple(templates)
        self._by_id: dict[str, PoseTemplate] = {}
        self._by_base: dict[str, list[PoseTemplate]] = {}
        for t in self._templates:
            if t.id in self._by_id:
                raise ValueError(f"duplicate pose id {t.id!r}")
            self._by_id[t.id] = t
            self._by_base.setdefault(t.base, []).append(t)
        self._search = SearchIndex(self._templates)
        # an old id answers its nearest current template (history made again, jobs queued before an upgrade)
        self._aliases = {old: new for old, new in (aliases or {}).items() if new in self._by_id}

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH, *, aliases: Mapping[str, str] | None = None) -> PoseLibrary:
        """Read a template file (parquet) through `datasets`, fully in memory, without the hub.

        Rows with an owner (private custom poses) are not part of the shared library and are skipped. `aliases`
        default to the package's alias map (old ids → current ones).
        """
        if aliases is None:
            aliases = json.loads(ALIASES_PATH.read_text()) if ALIASES_PATH.is_file() else {}
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
        return cls((_template(r, path) for r in records if r.get("owner") is None), aliases=aliases)

    def get(self, pose_id: str) -> PoseTemplate:
        """The template with this id (or the one an old id now stands for); `UnknownPose` when there is none."""
        try:
            return self._by_id[self._aliases.get(pose_id, pose_id)]
        except (KeyError, TypeError):
            shown = repr(pose_id) if len(repr(pose_id)) <= 60 else repr(pose_id)[:57] + "..."
            raise UnknownPose(f"Unknown pose {shown}. Pick a pose from the gallery.") from None

    def __len__(self) -> int:
        return len(self._templates)

    def __iter__(self) -> Iterator[PoseTemplate]:
        return iter(self._templates)

    def __contains__(self, pose_id: object) -> bool:
        return isinstance(pose_id, str) and (pose_id in self._by_id or pose_id in self._aliases)

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

    def suggest(self, search: str | None) -> list[str]:
        """ "Did you mean": rewordings of `search` with the words the library does not know replaced by known
        words spelt like them ("sittng on chiar" -> "sitting on chair"); empty when every word is known."""
        return self._search.suggest(search or "")

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

        A facet given as a list matches any of its values; None or empty means any. `search` is words,
        matched as whole words of the template's name, tags or facets (after stemming, phrases and synonyms:
        "sitting" finds "seated", "from behind" the back views, "holding" "held"), and ranked: the templates
        that match every word first, then those that match the most; within those the best score (a word of
        the pose's name counts more than a tag, a tag more than a facet such as "profile"), then gallery order.
        `include` adds templates that are not in the library (a person's private poses): they go through
        the same filters and search, and come first among equals, in the order given. With `group`, only the best
        template of each base pose is listed, and the total counts base poses.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = [(f, vs) for f, v in zip(FACETS, (category, gender, view, framing), strict=True) if (vs := _values(v))]
        words = list(dict.fromkeys(search_words(search or "")))
        if words:
            # People's own poses first among equals: their positions come before the library's.
            matches = [(self._search.match(t, words), n - len(include), t) for n, t in enumerate(include)]
            ranked = [(m, n, t) for m, n, t in matches if m is not None]
            ranked += [(m, i, self._templates[i]) for i, m in self._search.scores(words).items()]
            ranked.sort(key=lambda r: rank_key(r[0], r[1]))
            found = [t for _, _, t in ranked if _facets_match(t, wanted)]
        else:
            found = [t for t in (*include, *self._templates) if _facets_match(t, wanted)]
        if group:
            seen: set[str] = set()
            found = [t for t in found if not (t.base in seen or seen.add(t.base))]
        return found[offset : offset + limit], len(found)


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
    for facet, allowed in FACET_VALUES.items():
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
