"""Pose search: words stemmed and made one per meaning, each template's words weighted, queries ranked.

Imports `poses.template` only.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from avatargen.poses.template import FRAMING_LABEL, VIEW_LABEL, PoseTemplate

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


class SearchIndex:
    """Which templates each search word finds, and how well: a word of the name counts more than a tag, a tag more
    than a facet word; two query words in a row in a name count extra."""

    def __init__(self, templates: Sequence[PoseTemplate]):
        self._index: dict[str, dict[int, float]] = {}  # word -> {template position: how well it matches}
        self._pairs: dict[tuple[str, str], set[int]] = {}  # two words in a row in a name -> template positions
        for i, t in enumerate(templates):
            for word, weight in _index_words(t).items():
                self._index.setdefault(word, {})[i] = weight
            for pair in _pairs(t):
                self._pairs.setdefault(pair, set()).add(i)

    def scores(self, words: list[str]) -> dict[int, float]:
        """{template position: score} of the templates that match every one of `words` (from `search_words`)."""
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


def score(template: PoseTemplate, words: list[str]) -> float | None:
    """How well one template (not in an index) matches `words`, as `SearchIndex.scores` counts; None: no match."""
    weights = _index_words(template)
    if not all(w in weights for w in words):
        return None
    pairs = _pairs(template)
    return sum(weights[w] for w in words) + _PHRASE * sum(p in pairs for p in itertools.pairwise(words))
