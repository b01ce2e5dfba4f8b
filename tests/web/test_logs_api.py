"""The console log and the build folder: plain text, no traversal, hostile files never run."""

from __future__ import annotations

import os

import httpx
import pytest

from osci.web.logfiles import _chunks, snapshot

from .apikit import Api
from .builders import finished_build


@pytest.fixture
def build(api: Api):
    build = finished_build(
        api.store,
        api.blobs,
        console="line <b>1</b>\nline 2\n",
        artifacts={
            "evil.html": b"<script>alert(document.cookie)</script>",
            "pic.svg": b"<svg onload='alert(1)'/>",
            "data.bin": b"\x00\x01\x02binary",
            "shot.png": b"\x89PNG\r\n\x1a\n....",
            "notes.txt": "caf\u00e9\n".encode(),
            "nested/<i>odd<i>.log": b"odd name",
        },
    )
    folder = api.blobs.build_dir(build.uuid)
    (folder / "index.html").write_text("<html><body>escaped summary</body></html>")
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "index.html").write_text("<script>alert('log')</script>")
    return build


def test_console_log_is_plain_text(api: Api, build) -> None:
    response = api.client.get(f"/api/build/{build.uuid}/log")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == "line <b>1</b>\nline 2\n"


def test_console_log_missing_is_404(api: Api) -> None:
    waiting = api.store.create_build("unit", project="org/app")
    response = api.client.get(f"/api/build/{waiting.uuid}/log")
    assert response.status_code == 404 and "no console log" in response.json()["error"]


def test_build_index_is_the_only_html(api: Api, build) -> None:
    base = f"/logs/{build.uuid}"
    index = api.client.get(f"{base}/")
    assert index.status_code == 200 and index.text == "<html><body>escaped summary</body></html>"
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in index.headers["content-security-policy"]
    assert api.client.get(base, follow_redirects=False).status_code == 307
    assert api.client.get(f"{base}/index.html").headers["content-type"].startswith("text/html")

    for path in ("artifacts/evil.html", "artifacts/pic.svg", "logs/index.html", "job-output.txt"):
        response = api.client.get(f"{base}/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/plain; charset=utf-8", path
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.client.get(f"{base}/artifacts/evil.html").text.startswith("<script>")
    assert api.client.get(f"{base}/artifacts/notes.txt").text == "caf\u00e9\n"

    binary = api.client.get(f"{base}/artifacts/data.bin")
    assert binary.headers["content-type"] == "application/octet-stream"
    assert binary.headers["content-disposition"].startswith("attachment")
    assert api.client.get(f"{base}/artifacts/shot.png").headers["content-type"] == "image/png"


def test_folder_listing_escapes_names(api: Api, build) -> None:
    response = api.client.get(f"/logs/{build.uuid}/artifacts/nested/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<i>" not in response.text and "&lt;i&gt;odd&lt;i&gt;.log" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert api.client.get(f"/logs/{build.uuid}/logs", follow_redirects=False).status_code == 307
    # the logs folder's own index.html is an artifact: the listing is shown, not the file
    assert "alert" not in api.client.get(f"/logs/{build.uuid}/logs/").text


def test_traversal_is_impossible(api: Api, build, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    folder = api.blobs.build_dir(build.uuid)
    os.symlink(secret, folder / "artifacts" / "link.txt")
    depth = len(folder.relative_to(tmp_path).parts)
    up = "/".join([".."] * depth)
    attempts = [
        f"/logs/{build.uuid}/{up}/secret.txt",
        f"/logs/{build.uuid}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/logs/{build.uuid}/{'%2e%2e%2f' * depth}secret.txt",
        f"/logs/{build.uuid}/{secret}",
        f"/logs/{build.uuid}//{secret}",
        f"/logs/{build.uuid}/artifacts/link.txt",
        f"/logs/{build.uuid}/artifacts/%00",
        f"/logs/..%2f..%2f/{up}/secret.txt",
        "/logs/%2e%2e/secret.txt",
        "/logs/" + "0" * 32 + "/job-output.txt",
    ]
    for path in attempts:
        # raw paths: httpx would normalise dot segments itself
        request = api.client.build_request("GET", "http://testserver/")
        request.url = httpx.URL(f"http://testserver{path}")
        response = api.client.send(request)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert "top secret" not in response.text


def test_log_follow_needs_a_known_build(api: Api) -> None:
    response = api.client.get("/api/build/" + "a" * 32 + "/log", params={"follow": 1})
    assert response.status_code == 404
    assert api.client.get("/api/build/x/log", params={"follow": "maybe"}).status_code in (404, 422)


def test_a_growing_log_is_sent_as_it_was_when_asked(tmp_path) -> None:
    log = tmp_path / "job-output.txt"
    log.write_bytes(b"a" * 100_000)
    response = snapshot(log, "text/plain; charset=utf-8", {})
    assert response.headers["content-length"] == "100000"
    with log.open("ab") as handle:
        handle.write(b"more lines written while the answer is sent\n")
    assert b"".join(_chunks(log, int(response.headers["content-length"]))) == b"a" * 100_000


def test_an_index_symlinked_out_of_the_folder_is_refused(api: Api, tmp_path) -> None:
    build = finished_build(api.store, api.blobs)
    (tmp_path / "outside.html").write_text("<script>steal()</script>")
    folder = api.blobs.build_dir(build.uuid)
    os.symlink(tmp_path / "outside.html", folder / "index.html")
    for path in (f"/logs/{build.uuid}/", f"/logs/{build.uuid}/index.html"):
        response = api.client.get(path)
        assert response.status_code == 404 and "steal" not in response.text


def test_a_folder_without_index_is_listed(api: Api) -> None:
    build = finished_build(api.store, api.blobs, artifacts={"a.txt": b"a"})
    response = api.client.get(f"/logs/{build.uuid}/")
    assert response.status_code == 200 and 'href="job-output.txt"' in response.text
    assert 'href="artifacts/"' in response.text
