"""The example project `osci quickstart` creates, and the three commits it pushes."""

from __future__ import annotations

CENTRAL_CONFIG = """\
# The server's configuration, written by `osci quickstart`.
- connection:
    name: local
    driver: git
    baseurl: {repos}
    poll-interval: 1

- pipeline:
    name: check
    description: Every push to a branch is tested.
    manager: independent
    trigger:
      local:
        - event: ref-updated

- project:
    name: example
    default-branch: main
"""

IN_REPO_CONFIG = """\
# The project's own jobs (osci's job language, Zuul-shaped).
- job:
    name: unit-tests
    description: Set up, run the tests, keep their JUnit report.
    pre-run: scripts/setup.sh      # a failure here is an infrastructure ERROR, retried
    run: scripts/test.sh           # a failure here is a FAILURE of the change
    attempts: 2
    timeout: 120
    test-results: [reports/junit.xml]

- project:
    check:
      jobs: [unit-tests]
"""

SETUP_OK = """\
#!/bin/sh
echo "setting up: python is $(command -v python3)"
"""

SETUP_BROKEN = """\
#!/bin/sh
echo "setting up: downloading dependencies from a mirror"
echo "error: mirror.example.org is unreachable" >&2
exit 1
"""

TEST_SH = """\
#!/bin/sh
mkdir -p reports
exec python3 tests.py reports/junit.xml
"""

TESTS_PY = '''\
"""The example's tests: plain Python writing a JUnit XML report."""
import sys
import traceback
from xml.sax.saxutils import escape, quoteattr

import calc


def test_add():
    assert calc.add(2, 3) == 5


def test_multiply():
    assert calc.multiply(4, 5) == 20


cases = []
for test in (test_add, test_multiply):
    try:
        test()
        cases.append(f"<testcase classname='tests' name='{test.__name__}'/>")
        print("PASS", test.__name__)
    except Exception:
        text = traceback.format_exc()
        print("FAIL", test.__name__)
        print(text)
        cases.append(
            f"<testcase classname='tests' name='{test.__name__}'>"
            f"<failure message={quoteattr(text.splitlines()[-1])}>{escape(text)}</failure></testcase>"
        )
with open(sys.argv[1], "w") as report:
    report.write("<testsuite name='tests'>" + "".join(cases) + "</testsuite>")
sys.exit(0 if all("failure" not in c for c in cases) else 1)
'''

CALC_OK = """\
def add(a, b):
    return a + b


def multiply(a, b):
    return a * b
"""

CALC_BUG = CALC_OK.replace("return a * b", "return a * b + 1  # an off-by-one slipped in")

# (commit message, files, what the reader should see)
COMMITS = [
    ("Add the calculator", {"calc.py": CALC_OK, "scripts/setup.sh": SETUP_OK}, "passes"),
    ("Make multiply faster", {"calc.py": CALC_BUG}, "a test fails (FAILURE)"),
    (
        "Fix multiply, use a package mirror",
        {"calc.py": CALC_OK, "scripts/setup.sh": SETUP_BROKEN},
        "setup fails: infrastructure ERROR, retried, then RETRY_LIMIT — never blamed on the change",
    ),
]

BASE_FILES = {
    ".osci.yaml": IN_REPO_CONFIG,
    "scripts/test.sh": TEST_SH,
    "tests.py": TESTS_PY,
}
EXECUTABLE = ("scripts/setup.sh", "scripts/test.sh")
