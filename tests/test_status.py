"""`python -m avatargen status` on both backends: queue depth per priority, workers alive, jobs per state."""

from avatargen.generations.health import render, status
from tests.conftest import generate_one
from tests.helpers import wait_for


def test_status_reports_the_queue_the_workers_the_jobs_and_the_oldest_wait(settings, runtime, services, photo, pose_id):
    user = services.users.add("watched", password="password")
    for priority in (False, True, False):
        generate_one(services, user, photo=photo, pose_id=pose_id, priority=priority)
    report = status(settings)
    assert report["queue"] == {"priority": 1, "normal": 2}
    assert report["jobs"] == {"pending": 3, "processing": 0, "completed": 0, "failed": 0}
    assert report["oldestPendingSeconds"] >= 0 and report["workers"] == []

    runtime.start_workers(1)
    wait_for(lambda: status(settings)["jobs"]["completed"] == 3, what="the jobs")
    report = status(settings)
    assert [worker["threads"] for worker in report["workers"]] == [1]
    assert report["queue"] == {"priority": 0, "normal": 0} and report["oldestPendingSeconds"] is None
    assert "workers alive  1" in render(report) and "completed 3" in render(report)
    runtime.close()
    assert status(settings)["workers"] == []  # a worker that stops cleanly says goodbye
