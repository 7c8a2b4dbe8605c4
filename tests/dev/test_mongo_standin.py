"""tools/dev/mongo_standin.py through the real driver: what chat-service relies on answers as MongoDB does.

chat-service's own suite runs against the stand-in too (``MONGO_URL=mongodb://127.0.0.1:<port>``, see
docs/chat-service.md); these pin the protocol details that suite would only notice indirectly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.mongo_standin import serve


@pytest.fixture(scope="module")
def client() -> Iterator[MongoClient[dict[str, Any]]]:
    server = serve(0)
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{server.port}", serverSelectionTimeoutMS=3000, tz_aware=True
    )
    try:
        yield client
    finally:
        client.close()
        server.stop()


@pytest.fixture
def messages(client: MongoClient[dict[str, Any]], request: pytest.FixtureRequest) -> Collection[dict[str, Any]]:
    collection = client.chat[request.node.name]
    collection.create_index([("room_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="room_seq")
    return collection


def test_a_unique_index_refuses_a_duplicate_insert_and_update(messages: Collection[dict[str, Any]]) -> None:
    messages.insert_many([{"room_id": 1, "seq": 1}, {"room_id": 1, "seq": 2}])
    with pytest.raises(DuplicateKeyError):
        messages.insert_one({"room_id": 1, "seq": 2})
    with pytest.raises(DuplicateKeyError):
        messages.update_one({"seq": 1}, {"$set": {"seq": 2}})
    assert sorted(d["seq"] for d in messages.find({}, {"_id": 0})) == [1, 2]
    info = messages.index_information()
    assert info["room_seq"]["unique"] is True and info["room_seq"]["key"] == [("room_id", 1), ("seq", 1)]


def test_a_cursor_pages_past_the_first_batch(messages: Collection[dict[str, Any]]) -> None:
    messages.insert_many([{"room_id": 2, "seq": n} for n in range(1, 251)])
    seqs = [d["seq"] for d in messages.find({"room_id": 2, "seq": {"$gt": 0}}).sort("seq", -1).batch_size(40)]
    assert seqs == list(range(250, 0, -1))
    assert messages.count_documents({"room_id": 2, "seq": {"$lte": 100}}) == 100
    assert [d["seq"] for d in messages.find({"room_id": 2}).sort("seq", 1).skip(10).limit(3)] == [11, 12, 13]


def test_find_and_modify_reports_what_it_did(messages: Collection[dict[str, Any]]) -> None:
    messages.insert_one({"room_id": 3, "seq": 1, "reactions": []})
    pair = {"e": "👍", "u": 7}
    after = messages.find_one_and_update(
        {"room_id": 3, "reactions": {"$ne": pair}}, {"$push": {"reactions": pair}}, return_document=ReturnDocument.AFTER
    )
    assert after is not None and after["reactions"] == [pair]
    again = messages.find_one_and_update({"room_id": 3, "reactions": {"$ne": pair}}, {"$push": {"reactions": pair}})
    assert again is None
    upserted = messages.find_one_and_update(
        {"room_id": 3, "seq": 9}, {"$set": {"x": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert upserted is not None and upserted["seq"] == 9
    assert messages.delete_many({"room_id": 3, "seq": {"$gt": 1}}).deleted_count == 1


def test_unknown_commands_and_missing_collections(client: MongoClient[dict[str, Any]]) -> None:
    with pytest.raises(OperationFailure) as failure:
        client.chat.command("noSuchCommand")
    assert failure.value.code == 59
    assert list(client.chat.never_created.list_indexes()) == []  # the driver maps NamespaceNotFound to empty
    assert client.admin.command("ping")["ok"] == 1
    assert client.server_info()["version"].startswith("7.")
