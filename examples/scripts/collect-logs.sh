#!/bin/sh
# post-run: always runs, also after a failure or a timeout.
mkdir -p "$OSCI_ARTIFACTS"
[ -d reports ] && cp -r reports "$OSCI_ARTIFACTS/" || true
echo "collected logs for $OSCI_JOB (build $OSCI_BUILD)"
