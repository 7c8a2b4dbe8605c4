"""tools/dev/run.py: how make dev's processes are started."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway.proxy import KEEPALIVE_EXPIRY_S
from tools.dev.run import SERVICE_KEEP_ALIVE_S, SERVICES, Ports


def test_the_gateway_closes_idle_upstream_connections_before_the_services_do() -> None:
    # A request sent into a connection the service is closing is lost: the gateway answers it 502.
    assert SERVICE_KEEP_ALIVE_S > KEEPALIVE_EXPIRY_S


def test_a_service_s_further_processes_listen_ten_ports_apart_clear_of_the_others() -> None:
    ports = Ports(8000)
    chat = next(s for s in SERVICES if s.name == "chat-service")
    taken = {ports.gateway, ports.broker, ports.mongo, ports.smtp, *(ports.service(s) for s in SERVICES)}
    further = [ports.service(chat, i) for i in range(1, 9)]
    assert further[:2] == [8012, 8022]
    assert not taken.intersection(further)
