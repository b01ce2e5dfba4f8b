"""Status, enqueue, dequeue, reload, notify, config errors, metrics: tokens required where they matter."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .apikit import Api


def test_status_passes_the_servers_document_through(api: Api) -> None:
    doc = api.client.get("/api/status").json()
    assert [p["name"] for p in doc["pipelines"]] == ["check", "gate"]
    assert doc["pipelines"][0]["queues"][0]["items"] == []
    assert doc["zone"] == "lab"


def test_write_endpoints_need_a_valid_admin_token(api: Api) -> None:
    body = {"project": "org/app", "pipeline": "check"}
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic b3BzOnNlY3JldA=="},
        {"Authorization": "Bearer osci_not-a-real-token"},
    ):
        for path, json in (("/api/enqueue", body), ("/api/dequeue", {"item": "x"}), ("/api/reload", None)):
            response = api.client.post(path, json=json, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "token" in response.json()["error"]
    assert api.server.pipelines["check"] == [] and api.server.reloads == 0

    revoked = api.store.create_token("old")
    api.store.revoke_token("old")
    assert api.client.post("/api/reload", headers=api.auth(revoked)).status_code == 401
    agent = api.store.create_token("robot", kind="agent")
    forbidden = api.client.post("/api/reload", headers=api.auth(agent))
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["error"]


def test_enqueue_then_status_then_dequeue(api: Api) -> None:
    response = api.client.post(
        "/api/enqueue", json={"project": "org/app", "pipeline": "check", "change": 42}, headers=api.auth()
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"event": "event-1", "outcome": "enqueued into check"}
    items = api.client.get("/api/status").json()["pipelines"][0]["queues"][0]["items"]
    assert [(i["id"], i["project"], i["change"]) for i in items] == [("item-1", "org/app", "42")]

    missing = api.client.post("/api/dequeue", json={"item": "item-9"}, headers=api.auth())
    assert missing.status_code == 400 and missing.json()["error"] == "no live item matches"
    empty = api.client.post("/api/dequeue", json={"pipeline": "check"}, headers=api.auth())
    assert empty.status_code == 400
    done = api.client.post("/api/dequeue", json={"project": "org/app", "change": "42"}, headers=api.auth())
    assert done.json() == {"dequeued": ["item-1"]}

    unknown = api.client.post("/api/enqueue", json={"project": "p", "pipeline": "nope"}, headers=api.auth())
    assert unknown.status_code == 400 and unknown.json()["error"] == "no pipeline named 'nope'"


def test_enqueue_refuses_bad_bodies(api: Api) -> None:
    for body in (
        {"pipeline": "check"},
        {"project": "", "pipeline": "check"},
        {"project": ["a"], "pipeline": "check"},
        {"project": "a\nb", "pipeline": "check"},
        {"project": "a", "pipeline": "check", "extra": 1},
        {"project": "x" * 1000, "pipeline": "check"},
        [1, 2],
        "text",
        None,
    ):
        response = api.client.post("/api/enqueue", json=body, headers=api.auth())
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"].startswith("invalid request")
    broken = api.client.post(
        "/api/enqueue", content=b'{"project": ', headers={**api.auth(), "Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"]


def test_reload_and_config_errors(api: Api) -> None:
    assert api.client.post("/api/reload", headers=api.auth()).json() == {"ok": True, "errors": []}
    api.server.errors = [{"file": "osci.yaml", "line": 3, "column": 5, "message": "unknown key 'jbos'"}]
    assert api.client.post("/api/reload", headers=api.auth()).json()["ok"] is False
    assert api.client.get("/api/config/errors").json() == api.server.errors


def test_notify_needs_no_token_but_a_json_object(api: Api) -> None:
    response = api.client.post("/api/connection/git/notify", json={"project": "org/app"})
    assert response.status_code == 202 and response.json() == {"accepted": True}
    assert api.client.post("/api/connection/git/notify", json={}).status_code == 202
    assert api.server.notified == [("git", {"project": "org/app"}), ("git", {})]
    unknown = api.client.post("/api/connection/<b>evil</b>/notify", json={})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/json"
    for bad in ({"project": 5.5, "x": 1}, {"ref": "main"}, ["git"]):
        assert api.client.post("/api/connection/git/notify", json=bad).status_code == 422
    assert api.client.post("/api/connection/git/notify", content=b"not json").status_code == 422
    assert len(api.server.notified) == 2


def test_metrics_parse_as_prometheus_text(api: Api) -> None:
    api.server.running = {"a", "b"}
    response = api.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    queue = {s.labels["pipeline"]: s.value for s in families["osci_queue_length"].samples}
    assert queue == {"check": 0.0, "gate": 0.0}
    builds = {
        s.labels["result"]: s.value for s in families["osci_builds"].samples if s.name == "osci_builds_total"
    }
    assert builds == {"SUCCESS": 3.0, "FAILURE": 1.0}
    assert families["osci_running_builds"].samples[0].value == 2.0
    samples = {(s.name, s.labels.get("le")): s.value for s in families["osci_event_to_start_seconds"].samples}
    assert samples[("osci_event_to_start_seconds_count", None)] == 3
    assert samples[("osci_event_to_start_seconds_sum", None)] == 42.5
    assert samples[("osci_event_to_start_seconds_bucket", "1.0")] == 1
    assert samples[("osci_event_to_start_seconds_bucket", "+Inf")] == 3
    durations = {
        (s.name, s.labels.get("le")): s.value for s in families["osci_build_duration_seconds"].samples
    }
    assert durations[("osci_build_duration_seconds_bucket", "60.0")] == 1


def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    for path in ("/api/builds", "/api/build/{uuid}", "/api/enqueue", "/api/status", "/logs/{uuid}/{path}"):
        assert path in spec["paths"]
    assert api.client.get("/api/docs").status_code == 200
    schemas = spec["components"]["schemas"]
    assert {"BuildSummary", "BuildDetail", "EventOut", "ErrorOut", "EnqueueRequest"} <= set(schemas)


def test_webhooks_reach_the_connection_which_verifies_them(api: Api) -> None:
    raw = b'{"action": "opened", "note": "<script>"}'
    signed = api.client.post("/api/connection/git/payload", content=raw, headers={"X-Test-Token": "right"})
    assert signed.status_code == 202 and signed.json() == {"accepted": True, "detail": "1 event"}
    assert api.server.notified[-1] == ("git", {"webhook": raw.decode()})

    forged = api.client.post("/api/connection/git/payload", content=raw, headers={"X-Test-Token": "wrong"})
    assert forged.status_code == 401 and forged.json() == {"error": "signature does not match"}
    unknown = api.client.post("/api/connection/nope/payload", content=raw, headers={"X-Test-Token": "right"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert len(api.server.notified) == 1
