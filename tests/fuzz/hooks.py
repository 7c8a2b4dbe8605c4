"""schemathesis hooks (``SCHEMATHESIS_HOOKS``): steer valid requests onto the rows tests/fuzz/world.py made.

A generated id is almost never one that exists, so left alone the fuzzer would mostly meet 404s. In each
part of a request that schemathesis generated as *valid* (never in a deliberately invalid one, whose
rejection is being checked), a parameter or body field whose name the world knows gets one of its real
values three times out of four, picked from the generated value so a seed replays the same requests.
``FUZZ_WORLD`` names the JSON file of values, ``FUZZ_SERVICE`` the service under test.
"""

from __future__ import annotations

import json
import os
import zlib
from functools import cache
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

#: Body fields holding a user id, and those holding a list of them.
USER_FIELDS = frozenset({"user_id"})
USER_LIST_FIELDS = frozenset({"member_ids"})


@cache
def known() -> dict[str, list[Any]]:
    """Real values by parameter name for the service under test."""
    with open(os.environ["FUZZ_WORLD"]) as file:
        values: dict[str, list[Any]] = json.load(file)[os.environ["FUZZ_SERVICE"]]
    return values


def pick(name: str, generated: Any) -> Any:
    """A real value of ``name`` three times out of four (chosen by the generated value), else ``generated``."""
    values = known().get(name)
    if not values:
        return generated
    slot = zlib.crc32(repr(generated).encode()) % (4 * len(values))
    return values[slot // 3] if slot < 3 * len(values) else generated


def valid(case: schemathesis.Case, location: ParameterLocation) -> bool:
    """Whether schemathesis generated this part of the request to be valid."""
    meta = case.meta
    component = meta.components.get(location) if meta is not None else None
    return component is None or not component.mode.is_negative


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    if valid(case, ParameterLocation.PATH):
        for name, value in case.path_parameters.items():
            case.path_parameters[name] = pick(name, value)
        # A real message is only found in its own room.
        room_of = dict(known().get("message_room", []))
        if "room_id" in case.path_parameters and case.path_parameters.get("message_id") in room_of:
            case.path_parameters["room_id"] = room_of[case.path_parameters["message_id"]]
    if valid(case, ParameterLocation.QUERY) and case.query:
        for name, value in case.query.items():
            case.query[name] = pick(name, value)
    if valid(case, ParameterLocation.BODY) and isinstance(case.body, dict):
        for name, value in case.body.items():
            if name in USER_FIELDS:
                case.body[name] = pick("user_id", value)
            elif name in USER_LIST_FIELDS and isinstance(value, list):
                case.body[name] = [pick("user_id", item) for item in value]
    return case
