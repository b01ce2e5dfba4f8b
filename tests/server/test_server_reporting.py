"""Reports leave the server: e-mail to a real SMTP server, signed webhooks to a real HTTP server."""

from __future__ import annotations

from .conftest import Repo, wait_for
from .receivers import Mailbox, WebhookReceiver

CONFIG = """
- connection: {name: local, driver: git, baseurl: "@ROOT@/repos", poll-interval: 0.5}
- connection: {name: mail, driver: smtp, server: 127.0.0.1, port: @SMTP@, default-from: ci@example.org}
- connection: {name: hook, driver: webhook, url: "@HOOK@", secret: s3cret}
- pipeline:
    name: check
    trigger: {local: [{event: ref-updated}]}
    start: {hook: {}}
    success: {hook: {}, mail: {to: team@example.org}}
    failure: {hook: {}, mail: {to: team@example.org, author: true}}
- project: {name: demo}
"""

IN_REPO = """
- job:
    name: unit
    test-results: [r.xml]
    run:
      script: |
        cat > r.xml <<'XML'
        <testsuite><testcase name="&lt;img src=x onerror=alert(1)&gt;"><failure message="m">&lt;script&gt;alert(1)&lt;/script&gt; line one</failure></testcase></testsuite>
        XML
        exit 1
- project: {check: {jobs: [unit]}}
"""


def test_failure_mails_the_team_and_the_author_and_webhooks_are_signed(make_server, repo: Repo):
    with Mailbox() as mailbox, WebhookReceiver("s3cret") as hook:
        repo.write(".osci.yaml", IN_REPO)
        repo.commit("initial")
        repo.push()
        server = make_server(CONFIG.replace("@SMTP@", str(mailbox.port)).replace("@HOOK@", hook.url))
        server.start()
        wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
        repo.commit("change")
        repo.push()
        (build,) = server.wait_builds(1)
        assert build["result"] == "FAILURE"
        wait_for(lambda: mailbox.messages, 30, what="an e-mail")
        wait_for(lambda: hook.slots() == ["start", "failure"], 30, what="two webhook deliveries")
        assert hook.rejected == 0
        message = mailbox.messages[0]
        sender, recipients = mailbox.envelopes[0]
        assert sender == "ci@example.org"
        assert sorted(recipients) == ["dev@example.org", "team@example.org"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "unit" in text and "FAILURE" in text
        assert build["log_url"] in text
        assert "<img src=x" in text  # plain text shows the name as it is
        assert "<img src=x" not in html and "&lt;img src=x" in html
        assert "<script>" not in html
        failure = hook.deliveries[-1]
        assert failure["result"] == "FAILURE" and failure["builds"][0]["log_url"] == build["log_url"]


def test_a_webhook_that_is_down_is_retried_until_it_answers(make_server, repo: Repo):
    with Mailbox() as mailbox, WebhookReceiver("s3cret") as hook:
        hook.status = 500
        repo.write(".osci.yaml", IN_REPO.replace("exit 1", "exit 0"))
        repo.commit("initial")
        repo.push()
        server = make_server(CONFIG.replace("@SMTP@", str(mailbox.port)).replace("@HOOK@", hook.url))
        server.start()
        wait_for(lambda: "watching demo" in server.log(), 20, what="the repository to be watched")
        repo.commit("change")
        repo.push()
        server.wait_builds(1)
        wait_for(lambda: mailbox.messages, 30, what="the e-mail, which does not wait for the webhook")
        wait_for(lambda: "failed (try 2)" in server.log(), 30, what="a retried webhook")
        hook.status = 200
        wait_for(
            lambda: sorted(hook.slots()) == ["start", "success"], 60, what="both reports after the outage"
        )
