"""The executor: one build of one job in a clean workspace (see DESIGN.md, "How data flows" step 5).

    from osci.executor import BuildRequest, run_build
    record = run_build(BuildRequest(job=job, build_dir=Path("out"), source=Path(".")))

The environment steps see is documented in `osci.executor.env`.
"""

from osci.executor.build import run_build
from osci.executor.request import BuildRequest

__all__ = ["BuildRequest", "run_build"]
