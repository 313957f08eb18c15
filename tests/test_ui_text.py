"""What the page says, from API records: names not ids, times, prices, failures with their refund."""

from avatargen.poses.template import PoseTemplate
from avatargen.ui.text import (
    batch_status,
    blocked,
    details,
    face_line,
    facets_line,
    history_caption,
    job_state,
    jobs_html,
    ledger_rows,
    price_line,
    stats_line,
)

POSE = PoseTemplate("wave-1", "Waving with the right hand, front", "action", "male", "front", "full-body", (), ())


def record(status: str = "completed", **changes) -> dict:
    return {
        "id": "g1",
        "poseTemplateId": "wave-1",
        "status": status,
        "progress": 0.0,
        "quality": "hd",
        "style": "anime",
        "priority": False,
        "seed": 7,
        "width": 768,
        "height": 1152,
        "creditUsed": 7,
        "errorMessage": None,
        "createdAt": "2026-11-27T10:00:00.000Z",
        "startedAt": "2026-11-27T10:00:01.000Z",
        "completedAt": "2026-11-27T10:00:05.500Z",
    } | changes


def test_pose_facets_read_as_words():
    assert facets_line(POSE) == "action · male body · front · full body"


def test_the_face_check_is_written_out_with_its_numbers():
    assert face_line(None, 80).startswith("✗ No face: use a photo where your face is clearly visible")
    assert face_line(75, 80).startswith("✗ Face too small: 75 px, needs 80")
    assert face_line(120, 80).startswith("✓ Face found")


PRICES = {("sd", False): 5, ("sd", True): 8, ("hd", False): 10, ("hd", True): 13}


def test_generate_says_why_it_cannot_start_and_the_cheapest_way_to_fit():
    assert blocked(False, False, 0, PRICES, ("sd", False), 100) == "Add your photo first (or try the sample photo)."
    assert blocked(True, False, 1, PRICES, ("sd", False), 100).startswith("Use a photo with a clear face")
    assert blocked(True, True, 0, PRICES, ("sd", False), 100) == "Pick at least one pose."
    assert blocked(True, True, 3, PRICES, ("sd", False), 15) == ""
    assert blocked(True, True, 2, PRICES, ("hd", True), 20) == (
        "Not enough credits: 26 needed, you have 20. To fit: turn off Priority (20 credits)."
    )
    assert blocked(True, True, 2, PRICES, ("hd", True), 16) == (
        "Not enough credits: 26 needed, you have 16. To fit: choose SD (16 credits)."
    )
    assert blocked(True, True, 3, PRICES, ("sd", False), 12) == (
        "Not enough credits: 15 needed, you have 12. To fit: pick 2 poses."
    )
    assert blocked(True, True, 1, PRICES, ("sd", False), 3) == (
        "Not enough credits: 5 needed, you have 3. One avatar costs at least 5 credits."
    )


def test_price_counts_every_pose_and_warns_before_the_balance_runs_short():
    assert price_line(1, 5, 100) == "**Cost:** 5 credits · **Your balance:** 100 credits"
    assert price_line(3, 5, 12) == (
        "**Cost:** 3 poses × 5 = **15 credits** · **Your balance:** 12 credits — not enough for these"
    )


def test_job_states_say_where_a_job_stands():
    waiting = record("pending", queuePosition=2, etaSeconds=12.0)
    assert job_state(waiting, waiting) == "Waiting (#2 in the queue, about 12 s)"
    assert job_state(record("pending")) == "Waiting"
    slow = record("pending", queuePosition=9, etaSeconds=0.2 + 400)
    assert job_state(slow, slow) == "Waiting (#9 in the queue, about 7 min)"
    running = record("processing", progress=0.4, etaSeconds=3.0)
    assert job_state(running, running) == "Generating 40% · about 3 s left"
    assert job_state(record()) == "Done in 4.5 s"
    assert job_state(record("failed")) == "Failed — 7 credits refunded"


def test_batch_status_sums_up_several_jobs():
    batch = [record(), record("pending"), record("failed", errorMessage="boom")]
    assert batch_status(batch) == "1 of 3 done · 1 still running · 1 failed (refunded)"
    assert batch_status([record("failed", errorMessage="No GPU.")]) == "Failed: No GPU."
    assert batch_status([]) == ""


def test_history_names_the_pose_and_explains_a_failure():
    assert history_caption(record(), POSE.name) == "Waving with the right hand, front"  # no render time
    assert history_caption(record("failed"), POSE.name) == "Failed: Waving with the right hand, front · refunded"
    shown = details(record("failed", errorMessage="The model ran out of memory."), POSE.name)
    assert "wave-1" not in shown and "g1" not in shown
    for part in ("HD 768×1152", "Anime", "**Credits:** 7", "4.5 s", "ran out of memory", "7 credits refunded"):
        assert part in shown


def test_the_likeness_shows_with_each_result_in_history_and_in_stats():
    scored = record(likeness=83, candidates=4, alternatives=[{"imageUrl": "a", "likeness": 60}] * 3)
    assert job_state(scored) == "Done in 4.5 s · likeness 83/100"
    assert history_caption(scored, POSE.name) == "Waving with the right hand, front · likeness 83/100"  # time: details
    shown = details(scored, POSE.name)
    assert "**Likeness:** 83/100" in shown and "**Best of 4:**" in shown and "3 alternatives kept for a day" in shown
    assert "**Likeness:** no face to compare" in details(record(likeness=None), POSE.name)
    assert job_state(record(likeness=None)) == "Done in 4.5 s"
    stats = {
        "totalGenerations": 3,
        "completedGenerations": 2,
        "failedGenerations": 1,
        "averageProcessingTime": 4.0,
        "totalCreditsUsed": 10,
    }
    assert "average likeness **71.5**/100" in stats_line(stats | {"averageLikeness": 71.5}, 90)
    assert "likeness" not in stats_line(stats | {"averageLikeness": None}, 90)


def test_jobs_panel_escapes_names_and_shows_progress():
    job = record("processing", progress=0.25, queuePosition=None, etaSeconds=None)
    shown = jobs_html([job], {"wave-1": "<b>Wave</b>"}, {"wave-1": "data:image/png;base64,AAAA"})
    assert "&lt;b&gt;Wave&lt;/b&gt;" in shown and "<b>Wave</b>" not in shown
    assert 'value="0.250"' in shown and "data:image/png;base64,AAAA" in shown
    assert "No jobs running" in jobs_html([], {}, {})


def test_ledger_rows_show_the_balance_after_each_entry():
    entries = [
        {"createdAt": "2026-11-27T10:00:09.000Z", "reason": "refund", "delta": 5},
        {"createdAt": "2026-11-27T10:00:05.000Z", "reason": "generation", "delta": -5},
        {"createdAt": "2026-11-27T10:00:00.000Z", "reason": "grant", "delta": 100},
    ]
    assert [row[3] for row in ledger_rows(entries, 100)] == [100, 95, 100]


def test_the_sample_photo_passes_the_apps_own_checks(settings):
    from avatargen.engine.identity import require_face
    from avatargen.storage.photos import load_photo
    from avatargen.ui.create import SAMPLE_PHOTO

    require_face(load_photo(SAMPLE_PHOTO, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_upload_pixels))
