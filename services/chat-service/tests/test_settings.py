"""A deployed chat-service refuses the in-process stand-ins and a missing MONGO_URL (settings only, no server)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from chat_shared.standins import StandIn, stand_in

REAL = {
    "DATABASE_URL": "mysql+aiomysql://chat:pw@mysql:3306/chat_db",
    "REDIS_URL": "redis://:pw@redis:6379/1",
    "MONGO_URL": "mongodb://chat:pw@mongodb:27017/chat",
}


#: The object store's credentials, which a deployment must set too.
S3 = {"S3_ACCESS_KEY_ID": "AKIA-real-key-id", "S3_SECRET_ACCESS_KEY": "a-real-secret-access-key"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with only what each test sets (the caller's store variables removed)."""
    for name in (*REAL, *S3, "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def production(env: pytest.MonkeyPatch, **variables: str) -> Settings:
    env.setenv("ENVIRONMENT", "production")
    for name, value in {**S3, **variables}.items():
        env.setenv(name, value)
    return Settings()


def test_production_starts_with_real_stores(env: pytest.MonkeyPatch) -> None:
    settings = production(env, **REAL)
    assert (settings.database_url, settings.redis_url, settings.mongo_url) == tuple(REAL.values())


def test_production_without_mongo_url_names_the_variable(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match=r"MONGO_URL is not set \(its default is the in-process mongomock"):
        production(env, DATABASE_URL=REAL["DATABASE_URL"], REDIS_URL=REAL["REDIS_URL"])


def test_production_without_database_url_names_the_variable(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match=r"DATABASE_URL is not set \(its default is the in-process sqlite"):
        production(env, REDIS_URL=REAL["REDIS_URL"], MONGO_URL=REAL["MONGO_URL"])


@pytest.mark.parametrize(
    ("variable", "url", "kind"),
    [
        ("DATABASE_URL", "sqlite+aiosqlite:///./.data/chat.db", "sqlite"),
        ("REDIS_URL", "fakeredis://", "fakeredis"),
        ("MONGO_URL", "mongomock://", "mongomock"),
        ("MONGO_URL", "", None),
    ],
)
def test_production_refuses_each_stand_in(env: pytest.MonkeyPatch, variable: str, url: str, kind: str | None) -> None:
    expected = f"{variable} names the in-process {kind} stand-in" if kind else f"{variable} is empty"
    with pytest.raises(ValidationError, match=expected) as failure:
        production(env, **{**REAL, variable: url})
    assert "chat-service: production needs real stores" in str(failure.value)
    assert [name for name in REAL if name in str(failure.value)] == [variable], "only the offending variable"


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_tests_run_on_stand_ins(env: pytest.MonkeyPatch, environment: str) -> None:
    env.setenv("ENVIRONMENT", environment)
    env.setenv("REDIS_URL", "fakeredis://")
    settings = Settings()
    assert [stand_in(url) for url in (settings.database_url, settings.redis_url, settings.mongo_url)] == [
        StandIn.SQLITE,
        StandIn.FAKEREDIS,
        StandIn.MONGOMOCK,
    ]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite+aiosqlite:///x.db", StandIn.SQLITE),
        ("sqlite:///:memory:", StandIn.SQLITE),
        ("fakeredis://", StandIn.FAKEREDIS),
        ("mongomock://", StandIn.MONGOMOCK),
        ("mysql+aiomysql://root@127.0.0.1:3306/db", None),
        ("redis://127.0.0.1:6379/0", None),
        ("rediss://host:6380/0", None),
        ("mongodb+srv://cluster.example/chat", None),
        ("", None),
    ],
)
def test_stand_ins_are_recognised_by_their_scheme(url: str, kind: StandIn | None) -> None:
    assert stand_in(url) is kind


def test_production_refuses_the_object_stores_placeholder_credentials(env: pytest.MonkeyPatch) -> None:
    for name in S3:
        env.delenv(name, raising=False)
    env.setenv("ENVIRONMENT", "production")
    for name, value in REAL.items():
        env.setenv(name, value)
    with pytest.raises(ValidationError, match="S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY"):
        Settings()
