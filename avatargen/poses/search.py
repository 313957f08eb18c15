"""Pose search: words stemmed and made one per meaning, each template's words weighted, queries ranked.

A query is ranked, not filtered: the templates that match every word come first, then those that match the
most words; within each, the best score (where each word was found) and then gallery order. Words the library
does not know get "did you mean" suggestions from the words it does.

Imports `poses.template` only.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Sequence

from avatargen.poses.template import FRAMING_LABEL, VIEW_LABEL, PoseTemplate

# Words that say nothing about a pose; "facing" is a direction cue ("facing left"), not the body part "face".
_STOP_WORDS = frozenset(
    "a an and at by for from her his in into is it its of on one the their to with my me i someone person people "
    "photo picture image shot pose poses view views against down while some facing".split()
)
# Phrases that are one word to search: read before the words are split, in the index and in queries alike.
_PHRASES = (
    (r"\bclose[\s-]+up\b", "closeup"),
    (r"\b(from (the )?(behind|back)|(back|rear)[\s-]+view|back to the camera|back turned)\b", "backview"),
    (r"\bhead (and|&) shoulders\b|\bhead[\s-]?shot\b", "headshot"),
    (r"\bside[\s-]+(view|on)\b", "profile"),
    (r"\bthree[\s-]+quarters?[\s-]+(view[\s-]+)?(left|right)\b", r"threequarter\2"),
    (r"\bthree[\s-]+quarters?\b", "threequarter"),
    (r"\bcross[\s-]+legged\b", "crosslegged cross leg"),
    (r"\bfull[\s-]+(body|length)\b", "fullbody"),
    (r"\bhalf[\s-]+body\b", "halfbody"),
    (r"\bthumbs?[\s-]+up\b", "thumbsup"),
    (r"\bhigh[\s-]+five\b", "highfive"),
)
_IRREGULAR = {"lying": "lie", "lay": "lie", "laying": "lie", "lies": "lie", "sat": "sit", "seated": "sit"}
_IRREGULAR |= {"knelt": "kneel", "leapt": "leap", "sunglasses": "sunglass", "glasses": "glass", "men": "man"}
_IRREGULAR |= {"women": "woman", "feet": "foot", "standing": "stand", "crossed": "cross", "held": "hold"}
_IRREGULAR |= {"thinking": "think", "thoughtful": "think", "thought": "think", "crosslegged": "crosslegged"}
_SYNONYMS = (  # the first word of each group stands for all
    ("sit", "seat", "sitting"),
    ("lie", "recline", "reclining", "lying"),
    ("jump", "leap", "hop"),
    ("phone", "mobile", "smartphone", "cellphone", "cell", "iphone"),
    ("walk", "stroll", "strolling"),
    ("twirl", "spin", "spinning", "whirl"),
    ("crouch", "squat", "squatting"),
    ("laugh", "laughing", "giggle"),
    ("smile", "smiling", "grin"),
    ("dance", "dancing", "dancer"),
    ("run", "running", "jog", "jogging", "sprint"),
    ("bag", "handbag", "purse", "tote", "clutch"),
    ("sunglass", "shade"),
    ("coffee", "cup", "mug", "tea"),
    ("jacket", "blazer", "coat"),
    ("hat", "cap", "fedora"),
    ("stair", "step", "staircase", "stairway"),
    ("rail", "railing", "balustrade", "banister"),
    ("wall", "brick"),
    ("up", "raise", "raised", "overhead", "lifted"),
    ("woman", "female", "feminine", "girl", "lady"),
    ("man", "male", "masculine", "guy", "boy"),
    ("hold", "holding", "carry", "carrying", "grab"),
    ("floor", "ground", "grass", "lawn"),
    ("headshot", "portrait", "closeup", "mugshot"),
    ("business", "corporate", "professional", "office", "linkedin", "work"),
    ("backview", "rear"),
    ("look", "glance", "glancing", "gaze", "peek"),
    ("cross", "fold", "folded"),
    ("think", "pensive", "thinker", "ponder", "contemplative"),
    ("joy", "happy", "cheerful", "joyful", "excited"),
    ("confident", "power", "assertive", "bold"),
    ("sensual", "sexy", "flirty", "seductive", "sultry"),
    ("elegant", "chic", "classy", "graceful", "ladylike"),
    ("sport", "fitness", "gym", "workout", "athletic", "exercise", "training"),
    ("moody", "sad", "melancholy", "serious"),
    ("playful", "fun", "cute", "quirky", "silly"),
    ("chair", "armchair", "sofa", "couch"),
    ("dress", "skirt", "gown"),
    ("glass", "spectacles", "specs", "eyeglasses"),
    ("hug", "embrace", "cuddle"),
    ("meditation", "meditate", "meditating", "zen"),
    ("camera", "lens"),
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


def _raw_words(text: str) -> list[str]:
    text = text.lower()
    for pattern, replacement in _PHRASES:
        text = re.sub(pattern, replacement, text)
    return re.findall(r"[a-z0-9]+", text)


def _canonical(word: str) -> str:
    stem = _stem(word)
    return _CANONICAL.get(stem, stem)


def search_words(text: str) -> list[str]:
    """The words of `text` as search compares them: lower-cased, phrases joined, stemmed, synonyms made one,
    stop words out."""
    return [_canonical(word) for word in _raw_words(text) if word not in _STOP_WORDS]


_NAME, _TAG, _FACET, _PHRASE = 3.0, 1.0, 0.5, 2.0  # how much a word counts where found; two in a row in a name
_FACET_WORDS = {
    "front": "front frontal",
    "three-quarter-left": "threequarterleft threequarter left angled",
    "three-quarter-right": "threequarterright threequarter right angled",
    "side-left": "side left profile",
    "side-right": "side right profile",
    "back": "backview back",
    "full-body": "fullbody",
    "three-quarter": "threequarter knees",
    "half-body": "halfbody waist",
    "head-shoulders": "headshot shoulders",
    "female": "female",
    "male": "male",
    "unisex": "unisex",
}
# Facet words in a name ("front foot", "left hand") say little about the shot: they count as a tag there.
_FACET_VOCABULARY = frozenset(w for text in _FACET_WORDS.values() for w in search_words(text))


def _title(template: PoseTemplate) -> str:
    # The name without the view and framing the build adds to it (those are facets).
    name = template.name
    for label in (FRAMING_LABEL.get(template.framing, ""), VIEW_LABEL.get(template.view, "")):
        name = name.removesuffix(f", {label}")
    return name


def _index_words(template: PoseTemplate) -> dict[str, float]:
    # A word counts once per place it is found (the facets, the tags, the name), and the places add up:
    # "running" in the name and the tags of the run pose beats "running" in the name of a hair pose.
    weights: dict[str, float] = {}
    facets = " ".join(_FACET_WORDS.get(getattr(template, f), "") for f in ("view", "framing", "gender"))
    tags = " ".join((template.category, *template.tags))
    for text, weight in ((facets, _FACET), (tags, _TAG), (_title(template), _NAME)):
        for word in set(search_words(text)):
            counted = _TAG if weight == _NAME and word in _FACET_VOCABULARY else weight
            weights[word] = weights.get(word, 0.0) + counted
    return weights


def _pairs(template: PoseTemplate) -> set[tuple[str, str]]:
    words = search_words(_title(template))
    return set(itertools.pairwise(words))


Match = tuple[int, float]  # how many of the query's words a template matches, and its score


def rank_key(match: Match, position: int) -> tuple[int, float, int]:
    """Sort key of a match: the most words matched first, then the best score, then gallery order."""
    return -match[0], -match[1], position


class SearchIndex:
    """Which templates each search word finds, and how well: a word of the name counts more than a tag, a tag more
    than a facet word; two query words in a row in a name count extra."""

    def __init__(self, templates: Sequence[PoseTemplate]):
        self._index: dict[str, dict[int, float]] = {}  # word -> {template position: how well it matches}
        self._pairs: dict[tuple[str, str], set[int]] = {}  # two words in a row in a name -> template positions
        self._spellings: dict[str, str] = {}  # a word as people write it -> the search word it stands for
        self._count = len(templates)
        for i, t in enumerate(templates):
            for word, weight in _index_words(t).items():
                self._index.setdefault(word, {})[i] = weight
            for pair in _pairs(t):
                self._pairs.setdefault(pair, set()).add(i)
            for word in _raw_words(" ".join((t.name, t.category, *t.tags))):
                if len(word) > 2 and word not in _STOP_WORDS:
                    self._spellings.setdefault(word, _canonical(word))
        for group in _SYNONYMS:
            for word in group:
                if _canonical(word) in self._index and word.isalpha():
                    self._spellings.setdefault(word, _canonical(word))

    def _rarity(self, word: str) -> float:
        # A rare word says more: "hat" (a few poses) outranks "holding" (many) in "holding a hat".
        return math.log(1.0 + self._count / max(1, len(self._index.get(word, ()))))

    def scores(self, words: list[str]) -> dict[int, Match]:
        """{template position: (words matched, score)} of the templates that match any of `words` (from
        `search_words`); sort them with `rank_key`."""
        found: dict[int, list[float]] = {}
        for word in words:
            rarity = self._rarity(word)
            for i, weight in self._index.get(word, {}).items():
                match = found.setdefault(i, [0, 0.0])
                match[0] += 1
                match[1] += weight * rarity
        # The words in the order asked, in a name: "arms up", not "knee up, arm".
        for pair in itertools.pairwise(words):
            for i in self._pairs.get(pair, set()) & found.keys():
                found[i][1] += _PHRASE
        return {i: (int(m[0]), round(m[1], 6)) for i, m in found.items()}

    def match(self, template: PoseTemplate, words: list[str]) -> Match | None:
        """How well a template that is not in the index (a person's own pose) matches `words`, counted as
        `scores` counts; None when it matches no word."""
        weights = _index_words(template)
        matched = [w for w in words if w in weights]
        if not matched:
            return None
        pairs = _pairs(template)
        phrases = _PHRASE * sum(p in pairs for p in itertools.pairwise(words))
        return len(matched), round(sum(weights[w] * self._rarity(w) for w in matched) + phrases, 6)

    def suggest(self, text: str, *, most: int = 3) -> list[str]:
        """Up to `most` rewordings of `text` in which each word the library does not know is replaced by a
        known word spelt like it ("did you mean"); empty when every word is known or nothing is close."""
        words = re.findall(r"[a-z0-9]+", text.lower())
        options: list[list[str]] = []
        for word in words:
            if word in _STOP_WORDS or all(w in self._index for w in search_words(word)):
                options.append([word])
            else:
                options.append(difflib.get_close_matches(word, self._spellings, n=most, cutoff=0.75))
        if all(len(o) == 1 and o[0] == w for o, w in zip(options, words, strict=True)) or not any(options):
            return []
        known = [o or [w] for o, w in zip(options, words, strict=True)]
        rewordings = (" ".join(o[min(i, len(o) - 1)] for o in known) for i in range(most))
        found = [s for s in dict.fromkeys(rewordings) if any(w in self._index for w in search_words(s))]
        return [s for s in found if s != " ".join(words)]
