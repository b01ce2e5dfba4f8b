"""`provider` objects: checked settings with file:line errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from osci.config import ConfigErrors, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "osci.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_providers_load_into_specs(tmp_path: Path):
    config = load_config(
        write(
            tmp_path,
            """
            - provider:
                name: lab
                driver: static
                reset: ./clean.sh
                power-cycle: ipmitool chassis power cycle
                quarantine-after: 2
                halt-above: 0.4
                username: ci
                labels: [{name: netscaler, min-ready: 1, max: 2}]
                hosts:
                  - {host: 10.0.0.5, label: netscaler, provides: [root, kvm]}
                  - {name: ns2, host: 10.0.0.6, port: 2222, label: netscaler, username: other}
            - provider:
                name: here
                driver: local
                slots: 2
                label: small
            """,
        )
    )
    lab = config.providers["lab"].spec
    assert (lab.reset, lab.quarantine_after, lab.halt_above) == ("./clean.sh", 2, 0.4)
    assert [(h.name, h.port, h.username, h.provides) for h in lab.hosts] == [
        ("10.0.0.5", 22, "ci", ["root", "kvm"]),
        ("ns2", 2222, "other", []),
    ]
    assert lab.labels[0].min_ready == 1 and lab.labels[0].max == 2
    here = config.providers["here"].spec
    assert (here.slots, here.label) == (2, "small")


def test_provider_errors_name_the_line(tmp_path: Path):
    path = write(
        tmp_path,
        """
        - provider:
            name: lab
            driver: static
            halt-above: 3
            rest: ./clean.sh
            hosts:
              - {host: a, label: x, port: zero}
              - {label: x}
        - provider:
            name: cloud
            driver: nova
        """,
    )
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    errors = [(e.location.line, e.message) for e in info.value.errors]
    assert any(line == 4 and "halt-above" in m for line, m in errors), errors
    assert any(line == 5 and "unknown key 'rest'" in m and "reset" in m for line, m in errors), errors
    assert any(line == 7 and "'port'" in m for line, m in errors), errors
    assert any(line == 8 and "missing required key 'host'" in m for line, m in errors), errors
    assert any(line == 11 and "'nova' is not one of local, static" in m for line, m in errors), errors
