"""``/notifications/subscriptions``, ``/notifications/preferences`` and ``/notifications/vapid-public-key``:
the happy paths and every refusal the contract names."""

from __future__ import annotations

import httpx

from chat_shared.testing.tokens import TestKeys
from tests.fakes.push_receiver import PushReceiver
from tests.helpers import next_id


def headers(keys: TestKeys, user_id: int | None = None) -> dict[str, str]:
    uid = user_id or next_id()
    return keys.headers(uid, f"u{uid}")


async def test_vapid_public_key_is_a_p256_point(client: httpx.AsyncClient) -> None:
    response = await client.get("/notifications/vapid-public-key")
    assert response.status_code == 200
    key = response.json()["public_key"]
    import base64

    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4


async def test_subscribe_list_delete(client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver) -> None:
    me = headers(keys)
    created = await client.post("/notifications/subscriptions", json=receiver.subscription("a"), headers=me)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "type", "created_at"} and body["type"] == "webpush"
    fcm = await client.post(
        "/notifications/subscriptions", json={"type": "fcm", "token": "tok_" + "x" * 40}, headers=me
    )
    assert fcm.status_code == 201 and fcm.json()["type"] == "fcm"

    listed = await client.get("/notifications/subscriptions", headers=me)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"], fcm.json()["id"]]

    assert (await client.delete(f"/notifications/subscriptions/{body['id']}", headers=me)).status_code == 204
    listed = await client.get("/notifications/subscriptions", headers=me)
    assert [s["id"] for s in listed.json()["items"]] == [fcm.json()["id"]]


async def test_the_same_endpoint_again_is_the_same_subscription(
    client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver
) -> None:
    me = headers(keys)
    first = await client.post("/notifications/subscriptions", json=receiver.subscription("same"), headers=me)
    again = await client.post("/notifications/subscriptions", json=receiver.subscription("same"), headers=me)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len((await client.get("/notifications/subscriptions", headers=me)).json()["items"]) == 1


async def test_bad_endpoints_are_refused_and_never_fetched(
    client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver
) -> None:
    me = headers(keys)
    good = receiver.subscription("x")
    for endpoint in (
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "https://evil.example.com/push/abc",  # not a push service
        "https://fcm.googleapis.com.evil.example/x",  # a look-alike host
        "https://user:pw@fcm.googleapis.com/x",
        "ftp://127.0.0.1/x",
        "not a url",
        "https://[::1/x",
    ):
        response = await client.post("/notifications/subscriptions", json={**good, "endpoint": endpoint}, headers=me)
        assert response.status_code == 422, (endpoint, response.text)
    assert receiver.attempts == {}
    assert (await client.get("/notifications/subscriptions", headers=me)).json()["items"] == []


async def test_allow_listed_push_services_are_accepted(
    client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver
) -> None:
    me = headers(keys)
    good = receiver.subscription("y")
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
    ):
        response = await client.post("/notifications/subscriptions", json={**good, "endpoint": endpoint}, headers=me)
        assert response.status_code == 201, (endpoint, response.text)


async def test_malformed_keys_are_refused(client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver) -> None:
    me = headers(keys)
    good = receiver.subscription("k")
    point_off_curve = "BA" + "A" * 85
    for bad in (
        {"p256dh": "not base64!", "auth": good["keys"]["auth"]},
        {"p256dh": point_off_curve, "auth": good["keys"]["auth"]},
        {"p256dh": good["keys"]["p256dh"][:40], "auth": good["keys"]["auth"]},
        {"p256dh": good["keys"]["p256dh"], "auth": "AAAA"},
        {"p256dh": good["keys"]["p256dh"]},
    ):
        response = await client.post("/notifications/subscriptions", json={**good, "keys": bad}, headers=me)
        assert response.status_code == 422, (bad, response.text)
    for body in ({"type": "fcm", "token": "has spaces in it and more"}, {"type": "sms", "to": "1"}, {"type": "fcm"}):
        assert (await client.post("/notifications/subscriptions", json=body, headers=me)).status_code == 422


async def test_another_users_subscription_is_404(
    client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver
) -> None:
    mine = await client.post("/notifications/subscriptions", json=receiver.subscription("m"), headers=headers(keys))
    other = headers(keys)
    assert (await client.delete(f"/notifications/subscriptions/{mine.json()['id']}", headers=other)).status_code == 404
    assert (await client.delete("/notifications/subscriptions/999999999", headers=other)).status_code == 404


async def test_the_21st_subscription_is_409_and_nothing_is_dropped(
    client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver
) -> None:
    me = headers(keys)
    ids = []
    for i in range(20):
        r = await client.post("/notifications/subscriptions", json=receiver.subscription(f"s{i}"), headers=me)
        assert r.status_code == 201
        ids.append(r.json()["id"])
    r = await client.post("/notifications/subscriptions", json=receiver.subscription("s20"), headers=me)
    assert r.status_code == 409
    listed = await client.get("/notifications/subscriptions", headers=me)
    assert [s["id"] for s in listed.json()["items"]] == ids


async def test_routes_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/notifications/subscriptions")).status_code == 401
    assert (await client.get("/notifications/preferences")).status_code == 401


async def test_preferences(client: httpx.AsyncClient, keys: TestKeys) -> None:
    me = headers(keys)
    assert (await client.get("/notifications/preferences", headers=me)).json() == {"show_preview": True}
    put = await client.put("/notifications/preferences", json={"show_preview": False}, headers=me)
    assert put.status_code == 200 and put.json() == {"show_preview": False}
    assert (await client.get("/notifications/preferences", headers=me)).json() == {"show_preview": False}
    for bad in ({"show_preview": "no"}, {}, {"show_preview": False, "x": 1}):
        assert (await client.put("/notifications/preferences", json=bad, headers=me)).status_code == 422
