"""Sample reports for reporter tests, with hostile names and outputs."""

from __future__ import annotations

from osci.model import BuildReport, FailedTest, Report

HOSTILE = "<script>alert('x')</script> & \"quoted\""


def sample_report(**overrides) -> Report:
    fields = dict(
        slot="failure",
        pipeline="check",
        project="acme/widget",
        branch="main",
        ref="refs/heads/main",
        newrev="0123456789abcdef0123456789abcdef01234567",
        change="12345",
        patchset="3",
        author="Grace Hopper <grace@example.org>",
        item_uuid="item-1",
        buildset_uuid="bs-1",
        result="FAILURE",
        status_url="http://127.0.0.1:8080/status/item-1",
        builds=[
            BuildReport(
                job="unit",
                uuid="b1",
                result="FAILURE",
                voting=True,
                duration=83.2,
                log_url="http://127.0.0.1:8080/logs/b1/",
                failed_tests=[
                    FailedTest(
                        name=f"test_{HOSTILE}",
                        status="failed",
                        output_head=f"Traceback\n  {HOSTILE}\nAssertionError",
                    ),
                    FailedTest(
                        name="test_two", status="error", output_head="\n".join(f"line {i}" for i in range(50))
                    ),
                ],
            ),
            BuildReport(
                job="lint",
                uuid="b2",
                result="SUCCESS",
                voting=True,
                duration=4,
                log_url="http://127.0.0.1:8080/logs/b2/",
            ),
            BuildReport(
                job="perf",
                uuid="b3",
                result="FAILURE",
                voting=False,
                duration=3700,
                log_url="javascript:alert(1)",
            ),
            BuildReport(
                job="tempest",
                uuid="b4",
                result="RETRY_LIMIT",
                voting=True,
                duration=12,
                log_url="http://127.0.0.1:8080/logs/b4/",
                attempts=3,
                reason="node lost during pre-run",
                failed_tests=[FailedTest(name="setup_probe", status="failed")],
            ),
        ],
    )
    fields.update(overrides)
    return Report(**fields)
