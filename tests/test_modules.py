"""The code's layers point one way: no two modules import each other, and each imports alone."""

import ast
import os
from pathlib import Path

from tests.fork_server import ForkServer

ROOT = Path(__file__).resolve().parent.parent
# Every app of the project (a folder with an apps.py): a list written out left the two
# added last, donotcall and sso, unchecked.
PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/apps.py"))
# Imports each module in a child of a process where Django is set up, so that no module
# leans on another having been imported first; a few children at a time, as each mostly
# waits for its turn on a busy machine.
IMPORT_EACH = """
import gc, os, sys, importlib, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()
gc.freeze()  # kept out of the children's collections, which would copy their memory
failed, importing = [], {}

def reaped():
    pid, status = os.wait()
    name = importing.pop(pid)
    if os.waitstatus_to_exitcode(status) != 0:
        failed.append(name)

# Those Django's set-up imported (apps, models, admin) would be no more than looked up.
for name in (name for name in sys.argv[1:] if name not in sys.modules):
    if len(importing) == 4:
        reaped()
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as error:
            print(f"{name}: {error!r}", flush=True)
            os._exit(1)
        os._exit(0)
    importing[pid] = name
while importing:
    reaped()
sys.exit(1 if failed else 0)
"""
# Python with Django and the libraries imported, but none of the portal's modules.
PYTHON = ForkServer(os.environ)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages but migrations, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported_by(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules a module imports, at its top or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            # "from . import rules" imports the module, not (for this purpose) its package.
            targets |= submodules or {base}
    return {target for target in targets if target in known and target != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (Tarjan's strongly connected parts)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in graph[node]:
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_no_two_modules_import_each_other():
    modules = project_modules()
    graph = {name: imported_by(name, path, set(modules)) for name, path in modules.items()}

    assert graph["imports.pushing"] >= {"imports.receipts", "records.services"}  # it reads
    assert cycles(graph) == []


def test_the_audit_log_imports_no_feature_app():
    modules = project_modules()
    audit = {name: imported_by(name, path, set(modules)) for name, path in modules.items()
             if name.startswith("audit")}

    assert {target for targets in audit.values() for target in targets
            if target.split(".")[0] in ("campaigns", "records", "imports", "roles",
                                             "twofactor")} == set()


def test_each_module_imports_on_its_own():
    names = sorted(name for name in project_modules() if "sandbox" not in name)
    result = PYTHON.run(["-c", IMPORT_EACH, *names], cwd=ROOT, env=dict(os.environ),
                        timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_the_cycle_finder_finds_modules_that_import_each_other():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert cycles(graph) == [["a", "b", "c"]]
