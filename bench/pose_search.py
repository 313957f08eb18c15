"""Pose search quality: precision@3 of everyday queries (tests/pose_queries.py), empty slots counting as misses,
and of what came back; the queries that missed. Prints a table and writes bench/results/pose_search.json.

    python bench/pose_search.py
"""

import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatargen.poses.library import PoseLibrary  # noqa: E402
from tests.pose_queries import ISSUE_STYLE, QUERIES, precision_at  # noqa: E402


def measure(library: PoseLibrary, queries) -> dict:
    per_query, filled = {}, []
    for query, judge in queries:
        found, _ = library.query(search=query, limit=3)
        per_query[query] = {"p@3": round(precision_at(found, judge), 3), "top": [t.id for t in found]}
        filled += [judge(t) for t in found]
    return {
        "precision_at_3": round(sum(q["p@3"] for q in per_query.values()) / len(per_query), 3),
        "precision_of_returned": round(sum(filled) / len(filled), 3) if filled else None,
        "queries": per_query,
    }


def main() -> None:
    library = PoseLibrary.load()
    results = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "templates": len(library)}
    for label, queries in (("issue_style_25", ISSUE_STYLE), ("all_40", QUERIES)):
        results[label] = measure(library, queries)
        r = results[label]
        print(f"{label}: precision@3 {r['precision_at_3']}, of returned {r['precision_of_returned']}")
        for query, q in r["queries"].items():
            if q["p@3"] < 1:
                print(f"    {q['p@3']:.2f}  {query!r}: {q['top']}")
    out = ROOT / "bench" / "results" / "pose_search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
