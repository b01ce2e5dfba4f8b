"""The standalone harness: run a job graph on this machine (osci run, functional, stress)."""
