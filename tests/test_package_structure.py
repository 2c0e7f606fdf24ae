"""Package boundaries: no import cycle between ``hourglass_plugin``
subpackages, and importing the package reads no file and parses no config."""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / 'hourglass_plugin'


def _unit(module: str) -> Optional[str]:
    """``hourglass_plugin.<unit>...`` -> ``<unit>`` (None outside the
    package). Top-level modules (``version``) are units of their own."""
    parts = module.split('.')
    if parts[0] != 'hourglass_plugin' or len(parts) < 2:
        return None
    return parts[1]


def _imported_modules(path: Path) -> Set[str]:
    """Absolute names of every module ``path`` imports (at any depth of the
    file, lazy imports inside functions included)."""
    rel = path.relative_to(REPO_ROOT).with_suffix('')
    package = list(rel.parts[:-1])  # the package a relative import starts in
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = '.'.join(base +
                                  ([node.module] if node.module else []))
            else:
                module = node.module or ''
            names.add(module)
            # `from . import datasets` imports the subpackage itself
            names.update(f'{module}.{alias.name}' for alias in node.names)
    return names


def subpackage_graph() -> Dict[str, Set[str]]:
    """Edges ``unit -> units it imports`` between the package's subpackages
    (self-edges dropped; the package's own ``__init__`` is left out, it
    imports every subpackage to register them)."""
    graph: Dict[str, Set[str]] = {}
    for path in PACKAGE.rglob('*.py'):
        rel = path.relative_to(PACKAGE)
        if rel == Path('__init__.py'):
            continue
        unit = rel.parts[0].removesuffix('.py')
        known = {p.name.removesuffix('.py') for p in PACKAGE.iterdir()}
        targets = {_unit(m) for m in _imported_modules(path)}
        graph.setdefault(unit, set()).update(t for t in targets
                                             if t and t != unit and t in known)
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """A cycle of ``graph`` as a node list ``[a, b, ..., a]``, or None."""
    state: Dict[str, int] = {}  # 1: on the DFS stack, 2: done
    stack: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_a_cycle_and_accepts_a_dag():
    assert find_cycle({
        'a': {'b'},
        'b': {'c'},
        'c': {'a'}
    }) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) is None


def test_graph_sees_the_relative_imports_of_the_mpii_format():
    graph = subpackage_graph()
    assert 'mpii' in graph['datasets'] and 'mpii' in graph['evaluation']
    assert 'datasets' not in graph['mpii']


def test_no_import_cycle_between_subpackages():
    graph = subpackage_graph()
    cycle = find_cycle(graph)
    assert cycle is None, ' -> '.join(cycle)


IMPORT_PROBE = r'''
import builtins, io, os, sys
import mmcv, mmdet, mmengine, mmpose, scipy.io, torch, torchvision  # noqa
import mmpose.apis, mmpose.models, mmpose.datasets, mmpose.evaluation  # noqa
from mmengine.config import Config
pkg = os.path.join(os.getcwd(), 'hourglass_plugin')
hits = []

def from_package():
    frame = sys._getframe(2)
    while frame:
        if frame.f_code.co_filename.startswith(pkg):
            return frame.f_code.co_filename
        frame = frame.f_back
    return None

def watch(name, func):
    def wrapper(*args, **kwargs):
        where = from_package()
        if where:
            hits.append(f'{name}{args[:1]} from {where}')
        return func(*args, **kwargs)
    return wrapper

builtins.open = watch('open', builtins.open)
io.open = builtins.open
Config.fromfile = staticmethod(watch('Config.fromfile', Config.fromfile))
import hourglass_plugin  # noqa
import hourglass_plugin.apis, hourglass_plugin.deploy  # noqa
print('\n'.join(hits))
'''


@pytest.mark.timeout(300)
def test_import_reads_no_file_and_parses_no_config():
    proc = subprocess.run([sys.executable, '-c', IMPORT_PROBE],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == '', proc.stdout
