"""Check the installed dependencies against the floors declared in setup.cfg.

setup.cfg is the single source of truth for the minimum versions; the "floors"
job of .ci/run installs exactly those versions and runs this test suite.
"""

import configparser
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from sklearn.utils.fixes import parse_version

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"
EXPECTED = {"scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"}


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _floors():
    if not SETUP_CFG.is_file():
        pytest.skip("setup.cfg not found (tests run without the source tree)")
    cfg = configparser.ConfigParser()
    cfg.read(SETUP_CFG)
    floors = {}
    for line in cfg["options"]["install_requires"].splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([^\s,;]+)", line)
        assert m is not None, f"install_requires entry {line!r} is not 'pkg>=X'"
        floors[_normalise(m[1])] = m[2]
    return floors


def test_floors_are_exactly_the_core_dependencies():
    assert set(_floors()) == EXPECTED


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_installed_version_meets_floor(package):
    floor = _floors()[package]
    installed = version(package)
    assert parse_version(installed) >= parse_version(floor), (
        f"{package} {installed} is older than the floor {floor} in setup.cfg"
    )
