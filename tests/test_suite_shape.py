"""The suite's own shape: what test modules share lives in tests/helpers.py (plain functions and constants) or
tests/conftest.py (fixtures), never in another test module. Importing a test module from another runs its
module-level code twice over and ties one file's tests to another's internals."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(tree: ast.Module) -> list[str]:
    """The test modules (``test_*``) that ``tree`` imports, however it spells the import."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [name for name in names if any(part.startswith("test_") for part in name.split("."))]
    return found


def test_no_test_module_imports_another():
    crossing = {
        str(path.relative_to(TESTS)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if (imported := imported_test_modules(ast.parse(path.read_text(), str(path))))
    }
    assert crossing == {}, "move what is shared into tests/helpers.py or tests/conftest.py"


def test_the_check_sees_every_spelling():
    spellings = [
        "from tests.test_report import synced",
        "import tests.test_report",
        "from tests import test_report",
        "from .test_report import synced",
        "from . import test_report",
    ]
    for code in spellings:
        assert imported_test_modules(ast.parse(code)), code
    assert imported_test_modules(ast.parse("from tests.helpers import okrsync\nimport pytest")) == []
