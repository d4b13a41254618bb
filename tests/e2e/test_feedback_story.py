"""The seeds' story, on a running server: a customer writes in through the web form; an agent
takes it, starts work and notes what was arranged; later the customer calls, and the agent who
answers finds them by the phone number in another format and reads, in the briefing, the
earlier request, its status and the note, so the customer need not repeat it."""

import time
from typing import Any

import httpx
from tests.conftest import LiveServer

FORM_TEXT = "Máy lọc nước mua tuần trước bị rò rỉ nước dưới đáy, tôi muốn đổi máy mới"
NOTE = "Technician visit booked for Friday 9:00, bring a replacement filter housing"


def send(server: LiveServer, kind: str, body: dict[str, Any]) -> None:
    response = httpx.post(
        f"{server.url}/v1/{kind}", json=body, auth=(server.write_key, ""), timeout=10
    )
    assert response.status_code == 200, response.text


def open_items(client: httpx.Client, timeout_s: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = client.get("/api/feedback", params={"status": "open"}).json()["items"]
        if items:
            return list(items)
        time.sleep(0.2)
    raise AssertionError("the web form's feedback never reached the inbox")


def test_the_agent_sees_the_earlier_request_when_the_customer_calls(
    live_server: LiveServer,
) -> None:
    server = live_server
    traits = {
        "first_name": "Linh",
        "last_name": "Nguyễn",
        "email": "linh.nguyen@example.vn",
        "phone": "+84 90 123 4567",
    }
    send(server, "identify", {"anonymousId": "form-7f3a", "traits": traits})
    send(
        server,
        "track",
        {
            "anonymousId": "form-7f3a",
            "event": "Feedback Submitted",
            "properties": {
                "channel": "web_form",
                "subject": "Máy lọc nước rò rỉ",
                "text": FORM_TEXT,
            },
        },
    )
    server.wait_processed()
    with server.admin() as client:
        [item] = open_items(client)
        assert (item["language"], item["sentiment"], item["channel"]) == (
            "vi",
            "negative",
            "web_form",
        )
        assert item["topic"] == "product_quality"
        assigned = client.post(
            f"/api/feedback/{item['id']}/assign", json={"assignee": "Hoa", "team": "product"}
        )
        assert assigned.status_code == 200, assigned.text
        assert client.post(f"/api/feedback/{item['id']}/start").status_code == 200
        noted = client.post(f"/api/feedback/{item['id']}/notes", json={"text": NOTE})
        assert noted.status_code == 200, noted.text

        # days later the customer calls; the agent types the number as the caller says it
        found = client.get("/api/profiles", params={"query": "090 123 4567"}).json()
        [hit] = found["profiles"] if "profiles" in found else found["results"]
        profile_id = hit.get("id") or hit.get("profile_id")
        brief = client.get(f"/api/profiles/{profile_id}/briefing").json()

    [request] = brief["requests"]
    assert request["id"] == item["id"]
    assert request["status"] == "in_progress" and request["assignee"] == "Hoa"
    assert "rò rỉ" in request["text"]
    assert request["notes"][0]["text"] == NOTE
    assert f"request #{item['id']}" in brief["next_action"]["action"]
    assert "in progress, with Hoa" in brief["next_action"]["action"]
    assert "1 open request(s)" in brief["summary"]
