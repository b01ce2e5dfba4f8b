#!/bin/sh
mkdir -p reports
"${python:-python3}" tests/test_integration.py > reports/integration.tap
status=$?
cat reports/integration.tap
exit $status
