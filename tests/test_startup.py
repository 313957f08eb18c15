"""A front end starts its queue consumers only once its port is bound: one whose port is taken claims nothing."""

import socket

import pytest

import app
from tests.conftest import generate_one, make_runtime


def test_a_front_end_whose_port_is_taken_claims_no_job(settings, fake_engine, photo, pose_id, monkeypatch):
    runtime = make_runtime(settings, fake_engine)
    services = runtime.services
    user = services.users.add("waiting", password="password")
    generation = generate_one(services, user, photo=photo, pose_id=pose_id)
    runtime.close()
    monkeypatch.setattr(app, "build_runtime", lambda s: make_runtime(s, fake_engine))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = settings.model_copy(update={"port": taken.getsockname()[1], "auth": "password"})
        with pytest.raises(OSError):
            app.launch(busy, prevent_thread_lock=True, quiet=True)
    runtime = make_runtime(settings, fake_engine)
    try:
        row = runtime.services.generations.get(user, generation.id)
        assert (row.status, row.attempts) == ("pending", 0) and fake_engine.requests == []
    finally:
        runtime.close()
