"""The schedule behind upload purges, download expiry and webhook retries: actions run when their time comes."""

import threading

from avatargen.schedule import Schedule
from tests.helpers import wait_for


def test_actions_run_once_their_time_has_come_in_due_order(clock):
    schedule, ran = Schedule(clock=clock), []
    schedule.after(20, lambda: ran.append("later"))
    schedule.after(10, lambda: ran.append("sooner"))
    schedule.after(10, lambda: ran.append("sooner, second"))
    schedule.run_due()
    assert ran == []
    clock.now += 10
    schedule.run_due()
    assert ran == ["sooner", "sooner, second"]
    clock.now += 10
    schedule.run_due()
    assert ran == ["sooner", "sooner, second", "later"]
    schedule.close()


def test_a_key_keeps_one_pending_action_and_can_be_cancelled(clock):
    schedule, ran = Schedule(clock=clock), []
    schedule.after(10, lambda: ran.append("first"), key="upload")
    schedule.after(30, lambda: ran.append("second"), key="upload")  # replaces the first
    clock.now += 20
    schedule.run_due()
    assert ran == []
    clock.now += 10
    schedule.run_due()
    assert ran == ["second"]
    schedule.after(5, lambda: ran.append("third"), key="upload")
    schedule.cancel("upload")
    clock.now += 100
    schedule.run_due()
    assert ran == ["second"]
    schedule.close()


def test_a_failing_action_is_logged_and_the_rest_still_run(clock, caplog):
    schedule, ran = Schedule(clock=clock, name="test-schedule"), []
    schedule.after(0, lambda: 1 / 0)
    schedule.after(0, lambda: ran.append("after the failure"))
    schedule.run_due()
    assert ran == ["after the failure"]
    assert "test-schedule: a scheduled action failed" in caplog.text
    schedule.close()


def test_the_thread_runs_what_is_due_without_being_asked():
    schedule, done = Schedule(name="thread-under-test"), threading.Event()  # the real clock
    schedule.after(0, done.set)
    assert done.wait(10)
    schedule.close()
    wait_for(
        lambda: all(thread.name != "thread-under-test" for thread in threading.enumerate()),
        what="the thread to stop after close()",
    )
