"""A minimal TAP producer for the example's tests (any tool that writes TAP, JUnit or subunit works)."""

import sys
import traceback


def run(tests):
    print("TAP version 13")
    print(f"1..{len(tests)}")
    failed = 0
    for number, test in enumerate(tests, 1):
        try:
            test()
        except Exception:
            failed += 1
            print(f"not ok {number} - {test.__name__}")
            for line in traceback.format_exc().splitlines():
                print(f"# {line}")
        else:
            print(f"ok {number} - {test.__name__}")
    sys.stdout.flush()
    return 1 if failed else 0
