"""A MongoDB stand-in server: MongoDB's wire protocol in front of mongomock collections held in this process.

``mongomock://`` lives inside one process, so two chat-service processes would each see their own history.
This server lets every process reach one in-memory database through the real driver (Motor/pymongo over
TCP, ``MONGO_URL=mongodb://127.0.0.1:<port>``): mockupdb (MongoDB's own wire-protocol test server) speaks
the protocol — the ``OP_QUERY`` handshake and ``OP_MSG`` — and :class:`Commands` runs each command on
mongomock, unique indexes included (a duplicate answers code 11000, which the driver raises as
``DuplicateKeyError``). Requests are handled one at a time (mockupdb holds one lock around every request),
so mongomock is never used from two threads at once. Dev and test tooling only; it keeps nothing on disk.

    uv run python -m tools.dev.mongo_standin --port 27018   # then MONGO_URL=mongodb://127.0.0.1:27018
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import bson
import mongomock
import mongomock.collection
from bson import ObjectId
from mockupdb import MockupDB
from mongomock.filtering import filter_applies
from pymongo import ReturnDocument
from pymongo.errors import OperationFailure, WriteError

Doc = dict[str, Any]

MAX_WIRE_VERSION = 21  # MongoDB 7.0
VERSION = "7.0.0"
FIRST_BATCH = 101  # MongoDB's default size of a cursor's first batch
BATCH_BYTES = 8 * 1024 * 1024  # well under the 16 MiB a reply document may hold
# Codes from MongoDB's error_codes.yml
NAMESPACE_NOT_FOUND = 26
NAMESPACE_EXISTS = 48
COMMAND_NOT_FOUND = 59
CURSOR_NOT_FOUND = 43
BAD_VALUE = 2


class CommandFailed(Exception):
    """A command's error answer: ``{"ok": 0, "code": code, "errmsg": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hello() -> Doc:
    """What a standalone server answers to ``hello``/``isMaster`` (no sessions: the driver sends no lsid)."""
    return {
        "ismaster": True,
        "isWritablePrimary": True,
        "helloOk": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "localTime": datetime.now(UTC),
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": False,
        "ok": 1,
    }


def _write_error(index: int, exc: OperationFailure) -> Doc:
    return {"index": index, "code": exc.code or BAD_VALUE, "errmsg": str(exc)}


def _sort(spec: Mapping[str, Any] | None) -> list[tuple[str, Any]] | None:
    """A sort document as mongomock takes it (``$natural`` is the order documents are held in anyway)."""
    keys = [(k, v) for k, v in (spec or {}).items() if k != "$natural"]
    return keys or None


def _is_operator_update(update: Any) -> bool:
    return isinstance(update, Mapping) and any(str(k).startswith("$") for k in update)


class Commands:
    """MongoDB commands executed on mongomock: one instance holds every database and open cursor."""

    def __init__(self) -> None:
        self.client: mongomock.MongoClient = mongomock.MongoClient()
        self.cursors: dict[int, tuple[str, list[Doc]]] = {}
        self._cursor_ids = itertools.count(1)
        self.handlers: dict[str, Callable[[mongomock.Database, Doc], Doc]] = {
            "hello": lambda db, cmd: _hello(),
            "ismaster": lambda db, cmd: _hello(),
            "ping": lambda db, cmd: {"ok": 1},
            "buildinfo": lambda db, cmd: {"version": VERSION, "versionArray": [7, 0, 0, 0], "ok": 1},
            "endsessions": lambda db, cmd: {"ok": 1},
            "insert": self.insert,
            "find": self.find,
            "getmore": self.get_more,
            "killcursors": self.kill_cursors,
            "update": self.update,
            "delete": self.delete,
            "findandmodify": self.find_and_modify,
            "aggregate": self.aggregate,
            "count": self.count,
            "distinct": self.distinct,
            "createindexes": self.create_indexes,
            "listindexes": self.list_indexes,
            "dropindexes": self.drop_indexes,
            "listcollections": self.list_collections,
            "create": self.create,
            "drop": self.drop,
            "dropdatabase": lambda db, cmd: self.client.drop_database(db.name) or {"ok": 1},
            "listdatabases": self.list_databases,
        }

    def run(self, database: str, command: Doc) -> Doc:
        """The reply document of ``command`` on ``database`` (an error reply rather than an exception)."""
        name = next(iter(command), "")
        handler = self.handlers.get(name.lower())
        try:
            if handler is None:
                print(f"mongo stand-in: unknown command {name!r}", file=sys.stderr, flush=True)
                raise CommandFailed(COMMAND_NOT_FOUND, f"no such command: '{name}'")
            return handler(self.client[database], command)
        except CommandFailed as exc:
            return {"ok": 0, "code": exc.code, "errmsg": exc.message}
        except OperationFailure as exc:
            return {"ok": 0, "code": exc.code or BAD_VALUE, "errmsg": str(exc)}
        except (NotImplementedError, TypeError, ValueError, KeyError) as exc:
            # What mongomock (or this translation) does not support: said on stderr, where a developer looks.
            print(f"mongo stand-in: {name} not supported: {exc!r}", file=sys.stderr, flush=True)
            return {"ok": 0, "code": BAD_VALUE, "errmsg": f"{name}: {exc!r}"}

    # --- cursors --------------------------------------------------------------------------------

    def _cursor(self, namespace: str, docs: Iterable[Doc], first: int | None, single: bool = False) -> Doc:
        remaining = list(docs)
        batch = self._take(remaining, first if first else FIRST_BATCH)
        cursor_id = 0
        if remaining and not single:
            cursor_id = next(self._cursor_ids)
            self.cursors[cursor_id] = (namespace, remaining)
        return {"cursor": {"firstBatch": batch, "id": bson.int64.Int64(cursor_id), "ns": namespace}, "ok": 1}

    @staticmethod
    def _take(remaining: list[Doc], count: int | None) -> list[Doc]:
        """Up to ``count`` documents (all when None) from the front of ``remaining``, within the byte budget."""
        size, taken = 0, 0
        limit = len(remaining) if count is None else min(count, len(remaining))
        while taken < limit:
            size += len(bson.encode(remaining[taken]))
            if taken and size > BATCH_BYTES:
                break
            taken += 1
        batch = remaining[:taken]
        del remaining[:taken]
        return batch

    def get_more(self, db: mongomock.Database, cmd: Doc) -> Doc:
        cursor_id = int(cmd["getMore"])
        if cursor_id not in self.cursors:
            raise CommandFailed(CURSOR_NOT_FOUND, f"cursor id {cursor_id} not found")
        namespace, remaining = self.cursors[cursor_id]
        batch = self._take(remaining, cmd.get("batchSize"))
        if not remaining:
            del self.cursors[cursor_id]
            cursor_id = 0
        return {"cursor": {"nextBatch": batch, "id": bson.int64.Int64(cursor_id), "ns": namespace}, "ok": 1}

    def kill_cursors(self, db: mongomock.Database, cmd: Doc) -> Doc:
        ids = [int(c) for c in cmd.get("cursors", [])]
        killed = [c for c in ids if self.cursors.pop(c, None) is not None]
        missing = [c for c in ids if c not in killed]
        return {"cursorsKilled": killed, "cursorsNotFound": missing, "cursorsAlive": [], "cursorsUnknown": [], "ok": 1}

    # --- reads ----------------------------------------------------------------------------------

    def find(self, db: mongomock.Database, cmd: Doc) -> Doc:
        name = cmd["find"]
        cursor = db[name].find(cmd.get("filter") or {}, cmd.get("projection"))
        if sort := _sort(cmd.get("sort")):
            cursor = cursor.sort(sort)
        if cmd.get("skip"):
            cursor = cursor.skip(int(cmd["skip"]))
        limit = int(cmd.get("limit") or 0)
        if limit:
            cursor = cursor.limit(abs(limit))
        single = bool(cmd.get("singleBatch")) or limit < 0
        return self._cursor(f"{db.name}.{name}", cursor, cmd.get("batchSize"), single)

    def aggregate(self, db: mongomock.Database, cmd: Doc) -> Doc:
        name = cmd["aggregate"]
        if not isinstance(name, str):
            raise CommandFailed(BAD_VALUE, "database-level aggregate is not supported")
        docs = db[name].aggregate(list(cmd.get("pipeline") or []))
        return self._cursor(f"{db.name}.{name}", docs, (cmd.get("cursor") or {}).get("batchSize"))

    def count(self, db: mongomock.Database, cmd: Doc) -> Doc:
        options: dict[str, Any] = {k: int(cmd[k]) for k in ("limit", "skip") if cmd.get(k)}
        return {"n": db[cmd["count"]].count_documents(cmd.get("query") or {}, **options), "ok": 1}

    def distinct(self, db: mongomock.Database, cmd: Doc) -> Doc:
        return {"values": db[cmd["distinct"]].distinct(cmd["key"], cmd.get("query") or {}), "ok": 1}

    # --- writes ---------------------------------------------------------------------------------

    def insert(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["insert"]]
        ordered = cmd.get("ordered", True)
        n, errors = 0, []
        for index, document in enumerate(cmd.get("documents") or []):
            try:
                collection.insert_one(document)
                n += 1
            except WriteError as exc:
                errors.append(_write_error(index, exc))
                if ordered:
                    break
        return {"n": n, **({"writeErrors": errors} if errors else {}), "ok": 1}

    def update(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["update"]]
        ordered = cmd.get("ordered", True)
        n = modified = 0
        upserted: list[Doc] = []
        errors: list[Doc] = []
        for index, spec in enumerate(cmd.get("updates") or []):
            query, change, upsert = spec.get("q") or {}, spec["u"], bool(spec.get("upsert"))
            try:
                if not _is_operator_update(change):
                    result = collection.replace_one(query, change, upsert=upsert)
                elif spec.get("multi"):
                    result = collection.update_many(query, change, upsert, array_filters=spec.get("arrayFilters"))
                else:
                    result = collection.update_one(query, change, upsert, array_filters=spec.get("arrayFilters"))
            except WriteError as exc:
                errors.append(_write_error(index, exc))
                if ordered:
                    break
                continue
            n += result.matched_count
            modified += result.modified_count
            if result.upserted_id is not None:
                n += 1
                upserted.append({"index": index, "_id": result.upserted_id})
        reply: Doc = {"n": n, "nModified": modified, "ok": 1}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def delete(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["delete"]]
        n = 0
        for spec in cmd.get("deletes") or []:
            query = spec.get("q") or {}
            result = collection.delete_one(query) if spec.get("limit") == 1 else collection.delete_many(query)
            n += result.deleted_count
        return {"n": n, "ok": 1}

    def find_and_modify(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["findAndModify"]]
        query, sort, fields = cmd.get("query") or {}, _sort(cmd.get("sort")), cmd.get("fields")
        before = collection.find_one(query, sort=sort)
        if cmd.get("remove"):
            value = collection.find_one_and_delete(query, projection=fields, sort=sort)
            return {"lastErrorObject": {"n": int(value is not None)}, "value": value, "ok": 1}
        change, upsert = cmd.get("update") or {}, bool(cmd.get("upsert"))
        returned = ReturnDocument.AFTER if cmd.get("new") else ReturnDocument.BEFORE
        if _is_operator_update(change):
            value = collection.find_one_and_update(
                query,
                change,
                projection=fields,
                sort=sort,
                upsert=upsert,
                return_document=returned,
                array_filters=cmd.get("arrayFilters"),
            )
        else:
            value = collection.find_one_and_replace(
                query, change, projection=fields, sort=sort, upsert=upsert, return_document=returned
            )
        status: Doc = {"n": int(before is not None or upsert), "updatedExisting": before is not None}
        if before is None and upsert:
            after = collection.find_one(query, sort=sort) if value is None else value
            status["upserted"] = (after or {}).get("_id")
        return {"lastErrorObject": status, "value": value, "ok": 1}

    # --- collections and indexes ----------------------------------------------------------------

    def create_indexes(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["createIndexes"]]
        created = cmd["createIndexes"] not in db.list_collection_names()
        before = len(collection.index_information()) if not created else 1
        for spec in cmd.get("indexes") or []:
            options = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
            collection.create_index(list(spec["key"].items()), **options)
        after = len(collection.index_information())
        counts = {"numIndexesBefore": before, "numIndexesAfter": after}
        return {"createdCollectionAutomatically": created, **counts, "ok": 1}

    def list_indexes(self, db: mongomock.Database, cmd: Doc) -> Doc:
        name = cmd["listIndexes"]
        if name not in db.list_collection_names():
            raise CommandFailed(NAMESPACE_NOT_FOUND, f"ns does not exist: {db.name}.{name}")
        indexes = [
            {**{k: v for k, v in info.items() if k != "key"}, "key": dict(info["key"]), "name": index_name}
            for index_name, info in db[name].index_information().items()
        ]
        return self._cursor(f"{db.name}.$cmd.listIndexes.{name}", indexes, None)

    def drop_indexes(self, db: mongomock.Database, cmd: Doc) -> Doc:
        collection = db[cmd["dropIndexes"]]
        which = cmd.get("index", "*")
        if which == "*":
            collection.drop_indexes()
        else:
            collection.drop_index(which if isinstance(which, str) else list(which.items()))
        return {"ok": 1}

    def list_collections(self, db: mongomock.Database, cmd: Doc) -> Doc:
        wanted = (cmd.get("filter") or {}).get("name")
        names = [n for n in db.list_collection_names() if wanted is None or n == wanted]
        infos = [{"name": n, "type": "collection", "options": {}, "info": {"readOnly": False}} for n in names]
        return self._cursor(f"{db.name}.$cmd.listCollections", infos, None)

    def create(self, db: mongomock.Database, cmd: Doc) -> Doc:
        if cmd["create"] in db.list_collection_names():
            raise CommandFailed(NAMESPACE_EXISTS, f"Collection {db.name}.{cmd['create']} already exists.")
        db.create_collection(cmd["create"])
        return {"ok": 1}

    def drop(self, db: mongomock.Database, cmd: Doc) -> Doc:
        if cmd["drop"] not in db.list_collection_names():
            raise CommandFailed(NAMESPACE_NOT_FOUND, "ns not found")
        db.drop_collection(cmd["drop"])
        return {"ok": 1}

    def list_databases(self, db: mongomock.Database, cmd: Doc) -> Doc:
        names = self.client.list_database_names()
        return {"databases": [{"name": n, "sizeOnDisk": 0, "empty": False} for n in names], "totalSize": 0, "ok": 1}


#: Value types whose Python equality is MongoDB's equality when both sides have the same type.
_PLAIN = (int, str, bool, ObjectId)


def _equalities(query: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The top-level ``field: value`` equalities of a query on plain values (no operator, no dotted path)."""
    return [(k, v) for k, v in query.items() if not k.startswith("$") and "." not in k and type(v) in _PLAIN]


def _may_match(document: Mapping[str, Any], equalities: list[tuple[str, Any]]) -> bool:
    """False only when an equality surely fails: the field is missing, or holds another value of the same
    plain type (an array, a subclass or another type goes on to mongomock's full matching)."""
    for name, wanted in equalities:
        if name not in document:
            return False
        value = document[name]
        if type(value) is type(wanted) and value != wanted:
            return False
    return True


def _prefilter_equalities() -> None:
    """Reject documents by the query's plain equalities before mongomock's matcher sees them.

    mongomock matches every document of a collection against the whole query for each find and for each
    unique-index check of each write, at about 10 µs a document; chat-service's queries and indexes all
    start with an equality on ``room_id`` or ``_id``, which this check settles in well under 1 µs. The
    documents it keeps still go through mongomock's matcher, so results are the same.
    """
    collection_class: Any = mongomock.collection.Collection
    if getattr(collection_class, "_standin_prefilter", False):
        return
    scan = collection_class._iter_documents

    def iter_documents(self: Any, query: Mapping[str, Any]) -> Iterator[Doc]:
        equalities = _equalities(query) if isinstance(query, Mapping) else []
        if not equalities or self._store.is_empty:
            return cast(Iterator[Doc], scan(self, query))
        candidates = [d for d in self._store.documents if _may_match(d, equalities)]
        return (d for d in candidates if filter_applies(query, d))

    collection_class._iter_documents = iter_documents
    collection_class._standin_prefilter = True


def serve(port: int) -> MockupDB:
    """Start the server on ``localhost:port`` (IPv4; 0: a free port, see ``.port``); its threads are daemons."""
    _prefilter_equalities()
    commands = Commands()
    server = MockupDB(port=port, auto_ismaster=False)

    def respond(request: Any) -> bool:
        database = request.namespace.split(".", 1)[0] if request.namespace else "admin"
        return bool(request.replies(commands.run(database, dict(request.doc))))

    server.autoresponds(respond)
    server.run()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=27018)
    args = parser.parse_args(argv)
    server = serve(args.port)
    print(f"MongoDB stand-in listening on 127.0.0.1:{server.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
