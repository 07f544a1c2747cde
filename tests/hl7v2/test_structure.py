"""Code shape of adapters/hl7v2: small modules, documented public functions, translators cite their IG map."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import adapters.hl7v2

PACKAGE = Path(adapters.hl7v2.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
TRANSLATORS = [p for p in MODULES if p.parent.name in ("segments", "messages", "datatypes")
               and p.name not in ("__init__.py", "common.py")] + [PACKAGE / "terminology.py"]


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_is_small_and_documented(path):
    source = path.read_text("utf-8")
    assert len(source.splitlines()) <= 400
    tree = ast.parse(source)
    assert ast.get_docstring(tree), "module docstring"
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            assert ast.get_docstring(node), f"{node.name} needs a docstring"
    assert "shared/data" not in source and "/work/shared" not in source  # never reads the test corpus


@pytest.mark.parametrize("path", TRANSLATORS, ids=_id)
def test_translators_cite_the_v2_to_fhir_ig(path):
    doc = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
    assert "v2-to-FHIR IG" in doc and "hl7.org/fhir/uv/v2mappings" in doc
