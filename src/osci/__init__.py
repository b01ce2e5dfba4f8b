"""osci: a self-hosted continuous-integration system and test grid."""

__version__ = "0.1.0"
