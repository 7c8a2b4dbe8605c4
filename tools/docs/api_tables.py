"""The route and body tables of docs/contract.md, generated from each service's OpenAPI document.

    uv run python tools/docs/api_tables.py            rewrite the tables in docs/contract.md
    uv run python tools/docs/api_tables.py --check    exit 1 when they differ from what the services serve

A table sits between ``<!-- generated:KIND:SERVICE -->`` and ``<!-- /generated:KIND:SERVICE -->`` (KIND is
``routes`` or ``bodies``); everything outside the markers is prose and stays as written. Each service's
document is built in its own interpreter, because every service has a top-level ``app`` package, with the
in-process stand-ins of ``make dev``, so no server needs to be running. tests/docs fails when the committed
tables and the services disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "docs" / "contract.md"
SERVICES = ("user-service", "friend-service", "chat-service", "notification-service")
GATEWAY_PREFIX = "/api"
#: Served by every service for operators and tooling, never through the gateway.
INTERNAL_PATHS = frozenset({"/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json"})
INTERNAL_PREFIXES = ("/.well-known/", "/internal/")
#: FastAPI's own description of a 422; the error shape is described once, in the prose.
FRAMEWORK_SCHEMAS = frozenset({"HTTPValidationError", "ValidationError"})
METHODS = ("get", "post", "put", "patch", "delete")
BIG_INTEGER = 2**63

OPENAPI_SCRIPT = (
    "import json, sys\n"
    "from app.factory import create_app\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump(create_app().openapi(), f)\n"
)

Schema = dict[str, Any]


def build_openapi(services: Iterable[str] = SERVICES) -> dict[str, Schema]:
    """Each service's OpenAPI document, built in parallel subprocesses; raises naming a service that fails."""
    with tempfile.TemporaryDirectory(prefix="api-tables-") as scratch:
        running = {}
        for service in services:
            work = Path(scratch) / service
            work.mkdir()
            env = {
                **os.environ,
                "ENVIRONMENT": "development",
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": f"sqlite+aiosqlite:///{work}/db.sqlite",
                "REDIS_URL": "fakeredis://",
                "MONGO_URL": "mongomock://",
                "DEV_KEY_FILE": str(work / "key.pem"),
            }
            process = subprocess.Popen(  # noqa: S603 - our interpreter running our own script
                [sys.executable, "-c", OPENAPI_SCRIPT, str(work / "openapi.json")],
                cwd=REPO / "services" / service,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            running[service] = (process, work / "openapi.json")
        documents = {}
        for service, (process, path) in running.items():
            _, stderr = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"{service}: create_app().openapi() failed:\n{stderr[-3000:]}")
            documents[service] = json.loads(path.read_text())
        return documents


def is_public(path: str) -> bool:
    """A path the gateway routes (everything but the operational and internal ones)."""
    return path not in INTERNAL_PATHS and not path.startswith(INTERNAL_PREFIXES)


def ref_name(schema: Schema) -> str | None:
    """``Name`` of a ``{"$ref": "#/components/schemas/Name"}``."""
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def number(value: float) -> str:
    """An integer bound as written in a table (the 64-bit id limit as 2⁶³)."""
    if value >= BIG_INTEGER * 0.99:
        return "2⁶³"
    return str(int(value)) if float(value).is_integer() else str(value)


def bounds(schema: Schema, low_key: str, high_key: str, unit: str = "") -> list[str]:
    """``3–20 characters``, ``≤ 200 items``, ``> 0`` from a pair of bound keywords (and their exclusive forms)."""
    suffix = f" {unit}" if unit else ""
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and high is not None:
        return [f"{number(low)}–{number(high)}{suffix}"]
    parts = []
    if low is not None and (low > 0 or not unit):
        parts.append(f"≥ {number(low)}{suffix}")
    if high is not None:
        parts.append(f"≤ {number(high)}{suffix}")
    if (low_excl := schema.get("exclusiveMinimum")) is not None and not unit:
        parts.append(f"> {number(low_excl)}")
    if (high_excl := schema.get("exclusiveMaximum")) is not None and not unit:
        parts.append(f"< {number(high_excl)}")
    return parts


def with_rules(kind: str, rules: list[str]) -> str:
    """``string (3–20 characters, matching …)``; the bare kind when there are no rules."""
    return f"{kind} ({', '.join(rules)})" if rules else kind


def describe(schema: Schema) -> str:
    """A JSON Schema as a short phrase: ``string (3–20 characters)``, ``list of integer``, ``RoomOut or null``."""
    if name := ref_name(schema):
        return f"`{name}`"
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        text = " or ".join(describe(s) for s in options)
        return f"{text} or null" if len(options) < len(schema["anyOf"]) else text
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        size = bounds(schema, "minItems", "maxItems", "items")
        return f"{with_rules('list', size)} of {describe(schema.get('items', {}))}"
    if kind == "object" or (kind is None and "additionalProperties" in schema):
        values = schema.get("additionalProperties")
        return f"map of string → {describe(values)}" if isinstance(values, dict) and values else "object"
    if kind == "string":
        rules = bounds(schema, "minLength", "maxLength", "characters")
        if "pattern" in schema:
            rules.append(f"matching `{schema['pattern']}`".replace("|", "\\|"))
        return with_rules(schema.get("format", "string"), rules)
    if kind in ("integer", "number"):
        return with_rules(kind, bounds(schema, "minimum", "maximum"))
    return kind or "any value"


def field_list(schema: Schema) -> str:
    """``name`` type · ``other?`` type … for an object schema; ``?`` marks a field that may be left out."""
    required = set(schema.get("required", ()))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        text = f"`{name}{'' if name in required else '?'}` {describe(spec)}"
        if "default" in spec and spec["default"] is not None:
            text += f", default `{json.dumps(spec['default'])}`"
        fields.append(text)
    return " · ".join(fields) if fields else "(no fields)"


def operations(document: Schema) -> list[tuple[str, str, Schema]]:
    """(method, path, operation) of every public route, in the document's order."""
    return [
        (method, path, item[method])
        for path, item in document["paths"].items()
        if is_public(path)
        for method in METHODS
        if method in item
    ]


def body_cell(operation: Schema, components: Schema) -> str:
    """The request body: a schema name for JSON, the field list for a form."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return ""
    media, spec = next(iter(content.items()))
    schema = spec.get("schema", {})
    name = ref_name(schema)
    if media == "application/x-www-form-urlencoded":
        fields = components.get(name, schema) if name else schema
        return f"form: {field_list(fields)}"
    return describe(schema)


def parameters_cell(operation: Schema) -> str:
    """Path, then query parameters with their rules; ``?`` marks an optional one."""
    cells = []
    parameters = operation.get("parameters", [])
    for parameter in sorted(parameters, key=lambda p: p.get("in") != "path"):
        if parameter.get("in") not in ("path", "query"):
            continue
        schema = parameter.get("schema", {})
        if "anyOf" in schema:  # ``int | None``: an optional parameter, not one that takes null
            schema = {**schema, "anyOf": [s for s in schema["anyOf"] if s.get("type") != "null"]}
        text = f"`{parameter['name']}{'' if parameter.get('required') else '?'}` {describe(schema)}"
        if schema.get("default") is not None:
            text += f", default `{json.dumps(schema['default'])}`"
        cells.append(text)
    return " · ".join(cells)


def answers_cell(operation: Schema) -> str:
    """The success statuses with their body schema (204: no body)."""
    cells = []
    for status, response in sorted(operation.get("responses", {}).items()):
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        cells.append(f"{status} {describe(schema)}" if schema and ref_name(schema) else status)
    return ", ".join(cells)


def errors_cell(operation: Schema) -> str:
    """Every other status the route declares (each with the error body of CONTRACT §2)."""
    return ", ".join(status for status in sorted(operation.get("responses", {})) if not status.startswith("2"))


def purpose(operation: Schema) -> str:
    """The first line of the route's own description."""
    text = (operation.get("description") or operation.get("summary") or "").strip()
    return text.splitlines()[0].replace("``", "`").replace("|", "\\|") if text else ""


def render_routes(document: Schema) -> str:
    """One row per public route, as a client reaches it through the gateway."""
    components = document.get("components", {}).get("schemas", {})
    rows = [
        "| route | parameters | body | success | errors | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for method, path, operation in operations(document):
        route = f"`{method.upper()} {GATEWAY_PREFIX}{path}`"
        cells = (
            route,
            parameters_cell(operation),
            body_cell(operation, components),
            answers_cell(operation),
            errors_cell(operation),
        )
        rows.append("| " + " | ".join((*cells, purpose(operation))) + " |")
    return "\n".join(rows)


def referenced(schema: Any, components: Schema, seen: list[str]) -> None:
    """Collect the component names ``schema`` refers to, depth first, each once."""
    if isinstance(schema, dict):
        name = ref_name(schema)
        if name and name not in seen and name not in FRAMEWORK_SCHEMAS:
            seen.append(name)
            referenced(components.get(name, {}), components, seen)
        for value in schema.values():
            referenced(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            referenced(value, components, seen)


def render_bodies(document: Schema) -> str:
    """Every JSON body a public route takes or answers, with its fields."""
    components = document.get("components", {}).get("schemas", {})
    names: list[str] = []
    for _, _, operation in operations(document):
        for media, spec in operation.get("requestBody", {}).get("content", {}).items():
            if media == "application/json":
                referenced(spec, components, names)
        referenced(operation.get("responses", {}), components, names)
    rows = ["| body | fields |", "|---|---|"]
    for name in names:
        schema = components[name]
        closed = " (closed)" if schema.get("additionalProperties") is False else ""
        rows.append(f"| `{name}`{closed} | {field_list(schema)} |")
    return "\n".join(rows)


RENDERERS = {"routes": render_routes, "bodies": render_bodies}


def fill(text: str, documents: dict[str, Schema]) -> str:
    """``text`` with every generated block replaced; raises when a service's block is missing."""
    for service, document in documents.items():
        for kind, render in RENDERERS.items():
            start, end = f"<!-- generated:{kind}:{service} -->\n", f"<!-- /generated:{kind}:{service} -->"
            head, found, rest = text.partition(start)
            _, closed, tail = rest.partition(end)
            if not (found and closed):
                raise ValueError(f"{CONTRACT.name} has no {start.strip()} … {end} block")
            text = f"{head}{start}{render(document)}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the tables are stale")
    args = parser.parse_args(argv)
    current = CONTRACT.read_text()
    wanted = fill(current, build_openapi())
    if args.check:
        if wanted != current:
            print(f"{CONTRACT.relative_to(REPO)} is stale: run uv run python tools/docs/api_tables.py")
            return 1
        return 0
    if wanted != current:
        CONTRACT.write_text(wanted)
        print(f"rewrote the tables of {CONTRACT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
