"""The executor: one build of one job in a clean workspace (see DESIGN.md, "How data flows" step 5).

    from osci.executor import BuildRequest, run_build
    record = run_build(BuildRequest(job=job, build_dir=Path("out"), source=Path(".")))

The environment steps see is documented in `osci.executor.env`. The build directory holds:

    job-output.txt   the console log, each line timestamped (UTC)
    build.json       BuildRecord.to_dict() plus "frozen_job" and "source"
    junit.xml        every test case found, in one JUnit file
    index.html       a self-contained summary
    vars.json        the job's vars (what $OSCI_VARS points to)
    logs/            $OSCI_LOG_DIR: whatever the steps put there
    artifacts/       $OSCI_ARTIFACTS: listed in BuildRecord.artifacts
    attempt-N/       logs/ and artifacts/ of attempt N when it was retried
"""

from osci.executor.build import run_build
from osci.executor.request import BuildRequest

__all__ = ["BuildRequest", "run_build"]
