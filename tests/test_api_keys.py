"""API keys for the REST API: made and shown once, stored hashed, several per person, revocable, stamped when used;
wrong tokens throttled per address like wrong passwords; never a key in a log."""

import logging
from datetime import timedelta

import huggingface_hub
import pytest
from sqlmodel import select

from avatargen.accounts.api_keys import ApiKeys, Bearers, NotSignedIn, TooManyBadKeys, key_hash
from avatargen.db.connect import transaction
from avatargen.db.tables import ApiKey, utcnow
from avatargen.errors import NotFound
from avatargen.settings import Settings
from tests.conftest import make_runtime
from tests.test_app import cli


class Now:
    """A settable wall clock for last-use stamps."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def people(services):
    return services.users.add("alice", password="alice-password"), services.users.add("bob", password="bob-password")


def test_keys_are_stored_hashed_and_several_per_person(services, people):
    alice, bob = people
    first, first_key = services.api_keys.create(alice, "laptop")
    second, second_key = services.api_keys.create(alice, "ci")
    _, bobs_key = services.api_keys.create(bob, "phone")
    assert first_key.startswith("avk_") and len(first_key) >= 40 and first_key != second_key
    with transaction(services.database) as session:
        stored = session.exec(select(ApiKey)).all()
    assert all(first_key not in str(row.model_dump()) for row in stored)  # only the hash and a short prefix
    assert first.key_hash == key_hash(first_key) and first.prefix == first_key[:12]
    assert [k.name for k in services.api_keys.of(alice)] == ["laptop", "ci"]
    assert services.api_keys.owner(first_key) == services.api_keys.owner(second_key) == "alice"
    assert services.api_keys.owner(bobs_key) == "bob"
    with pytest.raises(NotSignedIn, match="not valid"):
        services.api_keys.owner(first_key[:-1] + ("A" if first_key[-1] != "A" else "B"))


def test_a_revoked_key_signs_nobody_in_and_only_its_owner_revokes_it(services, people):
    alice, bob = people
    record, key = services.api_keys.create(alice, "laptop")
    _, other = services.api_keys.create(alice, "ci")
    with pytest.raises(NotFound):
        services.api_keys.revoke(bob, record.id)  # another person's key id is like a missing one
    assert services.api_keys.owner(key) == "alice"
    assert services.api_keys.revoke(alice, record.id).revoked_at is not None
    with pytest.raises(NotSignedIn, match="revoked"):
        services.api_keys.owner(key)
    assert services.api_keys.owner(other) == "alice"  # her other keys still work


def test_last_use_is_stamped_at_most_once_a_minute(database_keys):
    keys, user = database_keys
    record, key = keys.create(user, "laptop")
    assert keys.of(user)[0].last_used_at is None
    keys.owner(key)
    first = keys.of(user)[0].last_used_at
    assert first == keys.clock.now
    keys.clock.now += timedelta(seconds=30)
    keys.owner(key)
    assert keys.of(user)[0].last_used_at == first  # no write for every request
    keys.clock.now += timedelta(seconds=31)
    keys.owner(key)
    assert keys.of(user)[0].last_used_at == keys.clock.now


@pytest.fixture
def database_keys(services):
    return ApiKeys(services.database, clock=Now()), services.users.add("carol", password="carol-password")


def test_wrong_tokens_are_throttled_per_address_like_wrong_passwords(services, people, clock, caplog):
    alice, _ = people
    _, key = services.api_keys.create(alice, "laptop")
    bearers = Bearers(services.api_keys, auth="password", clock=clock)
    caplog.set_level(logging.DEBUG)
    for attempt in range(5):
        with pytest.raises(NotSignedIn):
            bearers.account(f"avk_guess{attempt}", address="10.0.0.9")
    with pytest.raises(TooManyBadKeys) as refused:
        bearers.account(key, address="10.0.0.9")  # even the right key waits at a locked-out address
    assert refused.value.retry_after == 2 and "try again in 2 s" in str(refused.value)
    assert bearers.account(key, address="10.0.0.7") == "alice"  # another address is not held up
    clock.now += 2
    assert bearers.account(key, address="10.0.0.9") == "alice"
    assert "avk_guess" not in caplog.text and key not in caplog.text  # the guard logs fingerprints only
    with pytest.raises(NotSignedIn, match="not an API key"):
        bearers.account("hf_anything", address="10.0.0.8")  # Hugging Face tokens count only under hf


def test_hugging_face_tokens_sign_in_under_hf(tmp_path, fake_engine, monkeypatch):
    tokens = {"hf_token_of_bob": "bob-hf"}

    def whoami(token=None, **_):
        if token not in tokens:
            raise huggingface_hub.errors.HfHubHTTPError("401 Unauthorized")
        return {"type": "user", "name": tokens[token]}

    monkeypatch.setattr(huggingface_hub, "whoami", whoami)
    runtime = make_runtime(Settings(data_dir=tmp_path / "data", auth="hf", engine="tiny"), fake_engine)
    try:
        bearers = Bearers(runtime.services.api_keys, auth="hf")
        assert bearers.account("hf_token_of_bob", address="10.0.0.1") == "hf:bob-hf"
        with pytest.raises(NotSignedIn, match="Hugging Face token is not valid"):
            bearers.account("hf_token_of_nobody", address="10.0.0.1")
        user = runtime.services.users.user_for("hf:bob-hf")  # the first visit makes the account
        _, key = runtime.services.api_keys.create(user, "script")
        assert bearers.account(key, address="10.0.0.1") == "hf:bob-hf"  # API keys work under hf too
    finally:
        runtime.close()


def test_the_command_line_makes_lists_and_revokes_keys(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", auth="password", engine="tiny")
    settings.data_dir.mkdir(parents=True)
    cli(settings, "user", "add", "alice", "--password", "alice-pw")
    key = cli(settings, "user", "key", "alice", "--label", "laptop").strip()  # the key alone on stdout
    assert key.startswith("avk_") and "\n" not in key
    cli(settings, "user", "key", "alice")
    listed = cli(settings, "user", "keys", "alice")
    assert "laptop" in listed and "api key" in listed and key[:12] in listed and key not in listed
    assert "never used" in listed
    assert "is revoked" in cli(settings, "user", "revoke-key", "alice", "1")
    assert "revoked" in cli(settings, "user", "keys", "alice").splitlines()[0]
    assert "make an API key" in cli(settings, "user", "--help")
