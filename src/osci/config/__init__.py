"""The configuration language: Zuul-shaped YAML with positions, inheritance, variants, matchers.

config = load_config(Path("osci.yaml"), project_dir=Path("."))
job = config.freeze_job("unit", branch="main")
config.match(job, "main", ["src/a.py"]).runs
"""

from osci.config.cli_support import load_for_cli
from osci.config.config import Config, ConfigLookupError, load_config
from osci.config.errors import ConfigError, ConfigErrors
from osci.config.freeze import ConfiguredJob
from osci.config.loader import discover_config_files
from osci.config.matchers import Match
from osci.config.pipelines import Pipeline, TriggerFilter

__all__ = [
    "Config",
    "ConfigError",
    "ConfigErrors",
    "ConfigLookupError",
    "ConfiguredJob",
    "Match",
    "Pipeline",
    "TriggerFilter",
    "discover_config_files",
    "load_config",
    "load_for_cli",
]
