"""The packages that re-export names lazily (``streamrt.lazy``): each name of ``__all__`` comes from its table."""

from __future__ import annotations

import importlib
import subprocess
import sys
from types import ModuleType

import pytest

from streamrt.lazy import lazy_exports

PACKAGES = ("streamrt", "streamrt.runtime", "streamrt.store", "streamrt.testing")


@pytest.mark.parametrize("name", PACKAGES)
def test_every_lazy_name_is_the_object_its_home_module_defines(name: str) -> None:
    package = importlib.import_module(name)
    home: dict[str, str] = package._HOME
    assert set(package.__all__) - {"__version__"} == set(home)
    for attr, module in home.items():
        assert getattr(package, attr) is getattr(importlib.import_module(module), attr), attr


@pytest.mark.parametrize("name", PACKAGES)
def test_unknown_names_raise_attribute_error_naming_the_package_and_dir_lists_all(name: str) -> None:
    package = importlib.import_module(name)
    with pytest.raises(AttributeError, match=rf"module '{name}' has no attribute 'Nope'"):
        package.Nope  # noqa: B018
    assert set(package.__all__) <= set(dir(package))


def test_a_name_is_imported_on_first_use_and_then_kept() -> None:
    module = ModuleType("fake")
    module.__all__ = ["dumps"]  # type: ignore[attr-defined]
    getattr_, dir_ = lazy_exports(vars(module), {"dumps": "json"})
    assert "dumps" not in vars(module)
    assert "dumps" in dir_()
    json = importlib.import_module("json")
    assert getattr_("dumps") is json.dumps
    assert vars(module)["dumps"] is json.dumps


def test_importing_the_runtime_package_loads_none_of_its_modules() -> None:
    code = "import sys, streamrt.runtime; print(sorted(m for m in sys.modules if m.startswith('streamrt')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['streamrt', 'streamrt.lazy', 'streamrt.runtime']"
