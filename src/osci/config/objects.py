"""Small named objects: secrets, connections and providers (free-form, checked by their drivers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from osci.config.check import Section
from osci.config.errors import ErrorList
from osci.config.yamlpos import PosDict, plain
from osci.model import SourceLocation


@dataclass
class NamedObject:
    """A secret (`data`), a connection or a provider (`driver` plus driver settings)."""

    type: str
    name: str
    location: SourceLocation
    name_location: SourceLocation
    driver: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    in_repo: bool = False
    spec: Any = None  # a provider's checked settings (config/providers.py ProviderSpec)


def parse_secret(errors: ErrorList, body: PosDict, location: SourceLocation) -> NamedObject | None:
    section = Section(errors, body, "secret")
    section.check_keys(("name", "data"), required=("name", "data"))
    name = section.str("name")
    data = section.mapping("data")
    if name is None or data is None:
        return None
    return NamedObject("secret", name, location, section.value_loc("name"), data=plain(data))


def parse_driver_object(
    errors: ErrorList, body: PosDict, location: SourceLocation, object_type: str
) -> NamedObject | None:
    """A connection or provider: `name` and `driver` required, other keys kept for the driver."""
    section = Section(errors, body, object_type)
    section.check_keys(("name", "driver"), required=("name", "driver"), extra=body.keys())
    name, driver = section.str("name"), section.str("driver")
    if name is None or driver is None:
        return None
    settings = plain({k: v for k, v in body.items() if k not in ("name", "driver")})
    return NamedObject(object_type, name, location, section.value_loc("name"), driver=driver, data=settings)
