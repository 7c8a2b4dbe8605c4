"""No access log in front of the services writes a query string, where a stream ticket travels (CONTRACT
§6): Kong's log format (infrastructure/docker/kong/access-log.conf, selected by every compose file) logs the
path alone, and the Kubernetes ingress writes no access log for the stream's location."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACCESS_LOG_CONF = REPO / "infrastructure/docker/kong/access-log.conf"
COMPOSE_FILES = [REPO / f"docker-compose.{stage}.yml" for stage in ("mvp", "msa", "test")]
INGRESS = REPO / "k8s/base/ingress.yaml"
#: nginx variables that hold the query: the request line, the original URI, the arguments, one argument.
QUERY_VARIABLES = re.compile(r"\$(request|request_uri|args|query_string|is_args|arg_\w+)(?![A-Za-z0-9_])")


def test_kongs_log_format_names_the_path_never_the_query() -> None:
    text = ACCESS_LOG_CONF.read_text(encoding="utf-8")
    directive = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert directive.lstrip().startswith("log_format kong_no_query "), directive
    assert directive.rstrip().endswith(";")
    assert "$uri" in directive and "$status" in directive
    assert not QUERY_VARIABLES.search(directive), QUERY_VARIABLES.search(directive)


def test_the_query_variables_are_recognised() -> None:
    """The check above would catch Kong's default format and its variants, not only an exact string."""
    kong_default = "'\"$request\" $status $body_bytes_sent'"
    assert QUERY_VARIABLES.search(kong_default)
    assert QUERY_VARIABLES.search("'$request_uri'") and QUERY_VARIABLES.search("'$args'")
    assert QUERY_VARIABLES.search("'$arg_ticket'")
    assert not QUERY_VARIABLES.search("'$request_method $uri $request_time'")


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_kong_uses_that_format(compose_file: Path) -> None:
    kong: dict[str, Any] = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]["kong"]
    env = kong["environment"]
    assert env["KONG_PROXY_ACCESS_LOG"] == "/dev/stdout kong_no_query"
    include = env["KONG_NGINX_HTTP_INCLUDE"]
    assert f"./{ACCESS_LOG_CONF.relative_to(REPO)}:{include}:ro" in kong["volumes"]


def _ingresses() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(INGRESS.read_text(encoding="utf-8")) if doc and doc["kind"] == "Ingress"]


def _paths(ingress: dict[str, Any]) -> list[str]:
    return [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]


def test_the_ingress_writes_no_access_log_for_the_stream() -> None:
    """ingress-nginx's log format is the controller's (cluster-wide) and writes the request line, so the
    stream's location has its access log off, and no other Ingress's path matches the stream."""
    matching = [i for i in _ingresses() if any(re.fullmatch(p, "/api/stream") for p in _paths(i))]
    assert [i["metadata"]["name"] for i in matching] == ["chat-service-stream"]
    assert matching[0]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/enable-access-log"] == "false"
    tickets = [
        i["metadata"]["name"] for i in _ingresses() if any(re.fullmatch(p, "/api/stream/tickets") for p in _paths(i))
    ]
    assert tickets == ["chat-service"], "minting tickets stays an ordinary, logged route"
