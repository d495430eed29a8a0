"""Fixtures of the demo tests: the generator script as a module, its committed and fresh output."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kpi.config import ROOT

DEMO = ROOT / "demo"


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    """demo/generate.py imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("demo_generate", DEMO / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_generate"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fresh(gen, tmp_path_factory) -> Path:
    """One run of the generator into a temporary folder, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("demo_fresh")
    gen.generate(out)
    return out


@pytest.fixture(scope="session")
def manifest(fresh) -> dict:
    """The manifest of the fresh run."""
    return json.loads((fresh / "manifest.json").read_text(encoding="utf-8"))
