import json
import shutil
from pathlib import Path

import pytest

from osci.harness import deployment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deployments"  # a copy of shared/fixtures


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "basic.json", tmp_path / "basic.json")
    return tmp_path


def test_basic_roles_resolve_to_hosts_and_addresses(config_dir: Path, tmp_path: Path):
    dep = deployment.load("basic", config_dir)
    assert set(dep.hosts) == {"host1", "host2"}
    env = dep.environment(tmp_path / "resolved.json")
    assert env["OSCI_ROLE_API"] == "host1"
    assert env["OSCI_ROLE_NETWORK"] == "host2"
    assert env["OSCI_ROLE_NETWORK_ADDRESSES"] == "192.0.2.12"
    assert env["OSCI_ROLE_MESSAGING"] == "host1"  # found by its address
    assert env["OSCI_ROLE_DATASTORE"] == "host1"  # found by the host in its engine_url
    assert env["OSCI_DEPLOYMENT"] == str(tmp_path / "resolved.json")


def test_resolved_file_is_json(config_dir: Path, tmp_path: Path):
    dep = deployment.load("basic", config_dir)
    path = dep.write(tmp_path / "out" / "basic.json")
    data = json.loads(path.read_text())
    assert data["roles"]["scheduler"]["hosts"] == ["host1"]
    assert data["raw"]["datastore"]["engine_url"].startswith("mysql://")


def test_yaml_deployment(tmp_path: Path):
    (tmp_path / "lab.yaml").write_text("host:\n  - {name: a, address: 10.0.0.1}\napi: [a]\n")
    dep = deployment.load("lab", tmp_path)
    assert dep.roles["api"]["addresses"] == ["10.0.0.1"]


def test_missing_deployment_names_what_exists(config_dir: Path):
    with pytest.raises(deployment.DeploymentError, match="available: basic"):
        deployment.load("nope", config_dir)


def test_broken_json_names_file_and_line(tmp_path: Path):
    (tmp_path / "bad.json").write_text('{\n  "api": [\n}\n')
    with pytest.raises(deployment.DeploymentError, match=r"bad\.json:3:1: invalid JSON"):
        deployment.load("bad", tmp_path)


def test_role_naming_unknown_host_is_an_error(tmp_path: Path):
    (tmp_path / "x.json").write_text(json.dumps({"host": [{"name": "a"}], "api": [{"host": "b"}]}))
    with pytest.raises(deployment.DeploymentError, match="names host 'b'"):
        deployment.load("x", tmp_path)
