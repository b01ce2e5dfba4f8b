"""Providers of nodes, one module each; `make_provider` finds a driver's module by name."""

from __future__ import annotations

import importlib

from osci.config.providers import ProviderSpec
from osci.nodes.providers.base import NodeFailure, Provider

DRIVERS = {
    "local": "osci.nodes.providers.local:LocalProvider",
    "static": "osci.nodes.providers.static:StaticProvider",
    "container": "osci.nodes.providers.container:ContainerProvider",
    "agent": "osci.nodes.providers.agent:AgentProvider",
}


def make_provider(spec: ProviderSpec, **options: object) -> Provider:
    module, _, cls = DRIVERS[spec.driver].partition(":")
    return getattr(importlib.import_module(module), cls)(spec, **options)


__all__ = ["NodeFailure", "Provider", "make_provider"]
