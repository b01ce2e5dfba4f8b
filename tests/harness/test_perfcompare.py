from osci.analysis.perfcompare import compare, higher_is_better


def run(**metrics):
    return {
        "builds": [
            {"job": "stress", "metrics": {k: {"value": v[0], "unit": v[1]} for k, v in metrics.items()}}
        ]
    }


def verdicts(rows):
    return {r.metric: r.verdict for r in rows}


def test_direction_from_unit():
    assert higher_is_better("req/s")
    assert higher_is_better("ops")
    assert not higher_is_better("ms")
    assert not higher_is_better("bytes")
    assert higher_is_better("ms", "higher")


def test_regressions_and_improvements_beyond_threshold():
    base = run(latency=(100, "ms"), rate=(1000, "req/s"), mem=(50, "MB"))
    now = run(latency=(110, "ms"), rate=(1100, "req/s"), mem=(51, "MB"))
    rows = compare(base, now, 0.05)
    assert verdicts(rows) == {"latency": "regression", "rate": "improvement", "mem": "unchanged"}
    latency = next(r for r in rows if r.metric == "latency")
    assert round(latency.change, 3) == 0.1


def test_new_and_missing_metrics():
    rows = compare(run(old=(1, "s")), run(new=(1, "s")), 0.05)
    assert verdicts(rows) == {"old": "missing", "new": "new"}


def test_plain_numbers_and_garbage_are_tolerated():
    base = {"builds": [{"job": "j", "metrics": {"t": 1.0, "bad": "x"}}, "junk"]}
    now = {"builds": [{"job": "j", "metrics": {"t": 2.0}}]}
    assert verdicts(compare(base, now, 0.05)) == {"t": "regression"}
