#!/bin/sh
# Setup (pre-run): reserve the lab host. It is not there, so this fails: osci reports ERROR
# (infrastructure), retries with a fresh workspace, and ends RETRY_LIMIT, never FAILURE.
echo "reserving lab host lab-07 (192.0.2.50) for attempt ${OSCI_ATTEMPT:-?}"
echo "error: lab-07 did not answer" >&2
exit 1
