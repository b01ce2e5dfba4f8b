#!/usr/bin/env bash
# Runs the unit tests and keeps their TAP report for osci to parse.
set -o pipefail
mkdir -p reports
echo "running unit tests with ${python:-python3}"
"${python:-python3}" tests/test_unit.py | tee reports/unit.tap
