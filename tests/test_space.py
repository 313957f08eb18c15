"""The public-Space setup: sign in with Hugging Face, daily free credits, /data storage, free placeholder images,
ZeroGPU. Sign-in runs through Gradio's own (mocked, off-Space) OAuth routes and session; only the Hub look-ups
Gradio and the token check make are replaced (no network here)."""

import base64
import hashlib
import json
import threading
import time
import types
from datetime import timedelta
from pathlib import Path

import gradio.oauth
import httpx
import huggingface_hub
import itsdangerous
import pytest
from gradio_client import Client, handle_file

import app
from avatargen import settings as settings_module
from avatargen.accounts.requester import HF_PREFIX
from avatargen.accounts.users import find as find_user
from avatargen.db.connect import transaction
from avatargen.db.tables import utcnow
from avatargen.errors import UserError
from avatargen.settings import Settings
from avatargen.web.api import Api
from tests.conftest import generate_one, make_runtime
from tests.helpers import refused, serve, wait_until_done

HUB_USERS = {"hf_token_of_bob": "bob-hf", "hf_token_of_odd": "odd name!"}


def fake_whoami(token=None, **_):
    if token not in HUB_USERS:
        raise huggingface_hub.errors.HfHubHTTPError("401 Unauthorized")
    return {"type": "user", "name": HUB_USERS[token]}


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    # Gradio's mocked OAuth (off a Space) signs people in as the machine's Hub user: that look-up is faked
    patch.setattr(gradio.oauth, "get_token", lambda: "hf_local_machine")
    patch.setattr(
        gradio.oauth,
        "whoami",
        lambda *a, **k: {"type": "user", "name": "ada", "fullname": "Ada L.", "avatarUrl": "https://example.org/a"},
    )
    patch.setattr(huggingface_hub, "whoami", fake_whoami)
    settings = Settings(data_dir=tmp_path_factory.mktemp("space") / "data", auth="hf", engine="tiny")
    with serve(settings) as launched:
        yield launched.url, launched.runtime
    patch.undo()


def oauth_session(url: str) -> dict:
    """Sign in through Gradio's /login/huggingface → /login/callback routes; returns the session cookie header."""
    http = httpx.Client(base_url=url, timeout=30)
    callback = http.get("login/huggingface").headers["location"]
    answer = http.get(callback)
    assert answer.status_code in (302, 307)
    cookie = answer.headers["set-cookie"].split(";")[0]  # Secure: sent back by hand over plain http
    return {"cookie": cookie}


def raw_call(url: str, endpoint: str, data: list, headers: dict | None = None) -> tuple[str, dict]:
    with httpx.Client(base_url=url, headers=headers or {}, timeout=60) as http:
        event_id = http.post(f"gradio_api/call/{endpoint}", json={"data": data}).json()["event_id"]
        lines = http.get(f"gradio_api/call/{endpoint}/{event_id}").text.splitlines()
    event = [line for line in lines if line.startswith("event: ")][-1].removeprefix("event: ")
    payload = json.loads([line for line in lines if line.startswith("data: ")][-1].removeprefix("data: "))
    return event, payload


def test_signed_out_visitors_browse_but_are_asked_to_sign_in(space, photo):
    url, runtime = space
    visitor = Client(url, verbose=False)
    assert visitor.predict(category="standing", limit=3, api_name="/poses")["meta"]["total"] > 0
    assert visitor.predict(api_name="/styles")["data"]
    assert visitor.predict("hd", True, api_name="/price")["data"]["credits"] == 10
    pose_id = visitor.predict(limit=1, api_name="/poses")["data"][0]["id"]
    assert refused(lambda: visitor.predict(api_name="/credits")) == "Sign in with Hugging Face to see your credits."
    assert refused(
        lambda: visitor.predict(handle_file(str(photo)), pose_id, "sd", False, "realistic", None, api_name="/generate")
    ) == ("Sign in with Hugging Face to generate avatars.")
    assert "Sign in with Hugging Face to see your generations" in refused(
        lambda: visitor.predict(api_name="/generations")
    )
    with transaction(runtime.services.database) as session:  # nobody was created or charged
        assert find_user(session, "local") is None
    config = httpx.get(f"{url}config").text
    assert "Sign in with Hugging Face" in config  # the page offers the login button


def test_hf_users_sign_in_generate_and_keep_their_work_to_themselves(space, photo):
    url, runtime = space
    ada = oauth_session(url)
    event, credits = raw_call(url, "credits", [], ada)
    assert event == "complete" and credits[0]["data"]["balance"] == 100  # starting credits on the first visit
    assert runtime.services.users.user_for(HF_PREFIX + "ada").username == "hf:ada"

    bob = Client(url, token="hf_token_of_bob", verbose=False)  # a script with a Hugging Face token
    pose_id = bob.predict(limit=1, api_name="/poses")["data"][0]["id"]
    record = bob.predict(handle_file(str(photo)), pose_id, "sd", False, "anime", 5, api_name="/generate")["data"]
    assert wait_until_done(bob, record["id"])["status"] == "completed"
    assert bob.predict(api_name="/credits")["data"]["balance"] == 95

    event, answer = raw_call(url, "generation", [record["id"]], ada)
    assert event == "error" and answer["error"] == "Generation not found."
    event, listed = raw_call(url, "generations", [20, 0], ada)
    assert listed[0]["meta"]["total"] == 0
    stranger = Client(url, token="hf_token_of_nobody", verbose=False)
    assert refused(lambda: stranger.predict(api_name="/credits")) == "Sign in with Hugging Face to see your credits."
    assert refused(lambda: stranger.predict(record["id"], api_name="/generation")) == (
        "Sign in with Hugging Face to see your generations."
    )
    odd = Client(url, token="hf_token_of_odd", verbose=False)
    assert "has characters this app cannot use" in refused(lambda: odd.predict(api_name="/credits"))


def test_an_expired_oauth_session_counts_as_signed_out():
    from avatargen.accounts.requester import requester

    request = types.SimpleNamespace(
        scope={"session": {"oauth_info": {"expires_at": 1, "userinfo": {"preferred_username": "ada"}}}}, headers={}
    )
    assert requester(types.SimpleNamespace(request=request), "hf") is None


SPACE_OAUTH = {"SYSTEM": "spaces", "OAUTH_CLIENT_ID": "id", "OAUTH_CLIENT_SECRET": "secret", "OAUTH_SCOPES": "openid"}


def test_hf_mode_refuses_to_serve_others_off_a_space_and_says_what_is_missing(monkeypatch, tmp_path):
    for name in ("SPACE_ID", *SPACE_OAUTH):
        monkeypatch.delenv(name, raising=False)
    for unsafe in ({"host": "0.0.0.0"}, {"share": True}, {"host": "192.168.1.20"}):
        with pytest.raises(ValueError, match="only on a Space with OAuth enabled") as refused_start:
            Settings(data_dir=tmp_path, auth="hf", **unsafe)
        assert "SYSTEM=spaces, SPACE_ID, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_SCOPES" in str(refused_start.value)
    assert Settings(data_dir=tmp_path, auth="hf").host == "127.0.0.1"  # loopback: development
    monkeypatch.setenv("SPACE_ID", "someone/avatargen")
    for name, value in SPACE_OAUTH.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OAUTH_CLIENT_SECRET")  # a Space without the secret: cookies anybody can sign
    with pytest.raises(ValueError, match="lacks OAUTH_CLIENT_SECRET\\)"):
        Settings(data_dir=tmp_path, auth="hf", host="0.0.0.0")
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "secret")
    assert Settings(data_dir=tmp_path, auth="hf", host="0.0.0.0").auth == "hf"


def session_cookie(secret: str, username: str) -> dict:
    """A session cookie as Gradio's SessionMiddleware signs it, with the key derived from `secret`."""
    signer = itsdangerous.TimestampSigner(hashlib.sha256((secret + "-v4").encode()).hexdigest())
    info = {"oauth_info": {"expires_at": int(time.time()) + 3600, "userinfo": {"preferred_username": username}}}
    return {"cookie": "session=" + signer.sign(base64.b64encode(json.dumps(info).encode())).decode()}


def test_a_cookie_forged_with_the_empty_secret_signs_nobody_in(space):
    url, runtime = space
    forged = session_cookie("", "mallory")  # what the attacker signed: Gradio's key off a Space
    event, answer = raw_call(url, "credits", [], forged)
    assert event == "error" and answer["error"] == "Sign in with Hugging Face to see your credits."
    assert runtime.services.users.user_for(HF_PREFIX + "ada")  # (ada exists; mallory was never created)
    with transaction(runtime.services.database) as session:
        assert find_user(session, "hf:mallory") is None
    genuine = session_cookie(gradio.oauth.OAUTH_CLIENT_SECRET, "mallory")  # the process's own key does sign in
    event, answer = raw_call(url, "credits", [], genuine)
    assert event == "complete" and answer[0]["data"]["balance"] == 100


def test_a_private_download_goes_to_its_owner_only(space, photo):
    url, _ = space
    bob = Client(url, token="hf_token_of_bob", verbose=False)
    pose_id = bob.predict(limit=1, api_name="/poses")["data"][0]["id"]
    record = bob.predict(handle_file(str(photo)), pose_id, "sd", False, "anime", 6, api_name="/generate")["data"]
    assert wait_until_done(bob, record["id"])["status"] == "completed"
    assert Path(bob.predict(record["id"], api_name="/download_output")).stat().st_size > 0  # the owner's client
    bob_token = {"x-hf-authorization": "Bearer hf_token_of_bob"}
    event, answer = raw_call(url, "download_output", [record["id"], 0], bob_token)
    assert event == "complete"
    address = answer[0]["url"]
    assert httpx.get(address, headers={"x-hf-authorization": "Bearer hf_token_of_bob"}).status_code == 200
    assert httpx.get(address).status_code == 404  # a signed-out visitor with the address
    assert httpx.get(address, headers=oauth_session(url)).status_code == 404  # another person (ada)


def test_password_accounts_cannot_take_a_hugging_face_name(services):
    with pytest.raises(UserError, match="cannot contain ':'"):
        services.users.add("hf:ada", password="long-enough")


def test_a_space_signs_in_with_hugging_face_and_keeps_its_data(monkeypatch, tmp_path):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert Settings().auth == "none" and Settings().host == "127.0.0.1"  # a laptop never picks hf by itself
    monkeypatch.setenv("SPACE_ID", "someone/avatargen")
    for name, value in SPACE_OAUTH.items():
        monkeypatch.setenv(name, value)
    on_space = Settings()
    assert (on_space.auth, on_space.host) == ("hf", "0.0.0.0")
    monkeypatch.setenv("AVATARGEN_AUTH", "password")
    assert Settings().auth == "password"

    storage = tmp_path / "data"
    monkeypatch.setattr(settings_module, "SPACE_STORAGE", storage)
    assert Settings().data_dir == settings_module.Path("./data")  # no persistent storage: the local folder
    storage.mkdir()
    assert Settings().data_dir == storage / "avatargen"
    monkeypatch.delenv("HF_HOME", raising=False)
    settings_module.use_space_storage()
    assert settings_module.os.environ["HF_HOME"] == str(storage / ".huggingface")
    monkeypatch.setenv("HF_HOME", "/elsewhere")
    settings_module.use_space_storage()
    assert settings_module.os.environ["HF_HOME"] == "/elsewhere"


def test_daily_credits_top_up_once_per_day_under_racing_first_requests(tmp_path, fake_engine, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data", engine="tiny", auth="hf", starting_credits=5, daily_credits=20)
    runtime = make_runtime(settings, fake_engine)
    services = runtime.services
    try:
        results = []
        visit = lambda: results.append(services.users.user_for("hf:ada").id)  # noqa: E731
        threads = [threading.Thread(target=visit) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(results)) == 1
        user = services.users.user_for("hf:ada")
        ledger = services.ledger.statement(user)["transactions"]
        assert sorted((t["reason"], t["delta"]) for t in ledger) == [("daily", 15), ("grant", 5)]
        assert services.ledger.statement(user)["balance"] == 20
        assert services.ledger.top_up_daily(user) == 0  # once a day

        tomorrow = utcnow() + timedelta(days=1)
        monkeypatch.setattr(services.ledger, "clock", lambda: tomorrow)
        assert services.ledger.top_up_daily(user) == 0  # a balance at the floor needs nothing
    finally:
        runtime.close()


def test_placeholder_fallback_generations_are_free(tmp_path, fake_engine, photo):
    settings = Settings(data_dir=tmp_path / "data", engine="auto")
    runtime = make_runtime(settings, fake_engine)  # the fake engine is a placeholder, like the tiny fallback
    services = runtime.services
    try:
        user = services.users.user_for(None)
        pose_id = services.poses.library.query(limit=1)[0][0].id
        assert services.generations.price("hd", True) == 10  # not known yet: the engine has not loaded
        early = generate_one(services, user, photo=photo, pose_id=pose_id, quality="hd", priority=True)
        assert early.credit_used == 10 and services.ledger.statement(user)["balance"] == 90
        runtime.queue.run_next()  # the engine loads: a placeholder
        done = services.generations.get(user, early.id)
        assert (done.status, done.placeholder, done.credit_used) == ("completed", True, 0)
        assert services.ledger.statement(user)["balance"] == 100  # refunded once made

        assert services.generations.price("hd", True) == 0  # now known: shown and charged as free
        later = generate_one(services, user, photo=photo, pose_id=pose_id, quality="hd", priority=True)
        assert (later.credit_used, later.placeholder, later.to_public()["placeholder"]) == (0, True, True)
        assert app.engine_notice(runtime).startswith("⚠️ **Placeholder mode.**")
        assert "free" in app.engine_notice(runtime)
    finally:
        runtime.close()


def test_explicit_tiny_keeps_normal_prices(runtime, services, photo, pose_id):
    runtime.engine.get()
    user = services.users.user_for(None)
    assert services.generations.price("sd", False) == 5
    assert generate_one(services, user, photo=photo, pose_id=pose_id).credit_used == 5


def test_zero_gpu_runs_the_job_within_the_request(runtime, services, photo, pose_id):
    # the engine's own GPU stages inside `spaces.GPU`, in a real fork: tests/test_zerogpu.py
    api = Api(services, thumbnails=runtime.settings.cache_dir / "thumbnails", run_inline=runtime.run_queued)
    record = api.generate(str(photo), pose_id, "sd", False, "realistic", None)["data"]
    assert record["status"] == "completed"  # made within the call, as ZeroGPU needs
    assert len(runtime.queue) == 0
