"""Package boundaries: the imports between ``hourglass_plugin``
subpackages are exactly those the graph in docs/architecture.md allows, and
importing the package reads no file and parses no config."""
import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / 'hourglass_plugin'
ARCHITECTURE = REPO_ROOT / 'docs' / 'architecture.md'


def _unit(module: str) -> Optional[str]:
    """``hourglass_plugin.<unit>...`` -> ``<unit>`` (None outside the
    package). Top-level modules (``version``) are units of their own."""
    parts = module.split('.')
    if parts[0] != 'hourglass_plugin' or len(parts) < 2:
        return None
    return parts[1]


def _imported_modules(path: Path, root: Path) -> Set[str]:
    """Absolute names of every module ``path`` (a file under ``root``, the
    folder holding the package) imports, at any depth of the file, lazy
    imports inside functions included."""
    rel = path.relative_to(root).with_suffix('')
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


def subpackage_graph(package: Path = PACKAGE) -> Dict[str, Set[str]]:
    """Edges ``unit -> units it imports`` between the subpackages of
    ``package`` (self-edges dropped; the package's own ``__init__`` is left
    out, it imports every subpackage to register them)."""
    graph: Dict[str, Set[str]] = {}
    known = {
        p.name.removesuffix('.py')
        for p in package.iterdir()
        if p.name != '__pycache__' and not p.name.startswith('__init__')
    }
    for path in package.rglob('*.py'):
        rel = path.relative_to(package)
        if rel == Path('__init__.py'):
            continue
        unit = rel.parts[0].removesuffix('.py')
        targets = {_unit(m) for m in _imported_modules(path, package.parent)}
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


def allowed_graph(doc: Path = ARCHITECTURE) -> Dict[str, Set[str]]:
    """The graph of the ``mermaid`` block of docs/architecture.md: ``a -->
    b`` lines are allowed imports, a bare ``a`` line a subpackage that
    imports no other."""
    block = re.search(r'```mermaid\n(.*?)```', doc.read_text(), re.S)
    assert block, f'{doc}: no mermaid graph'
    graph: Dict[str, Set[str]] = {}
    for line in block.group(1).splitlines()[1:]:
        edge = re.fullmatch(r'\s*(\w+)\s*-->\s*(\w+)\s*', line)
        node = re.fullmatch(r'\s*(\w+)\s*', line)
        if edge:
            graph.setdefault(edge.group(1), set()).add(edge.group(2))
            graph.setdefault(edge.group(2), set())
        elif node:
            graph.setdefault(node.group(1), set())
    return graph


def disallowed_imports(graph: Dict[str, Set[str]],
                       allowed: Dict[str, Set[str]]) -> List[Tuple[str, str]]:
    """The edges of ``graph`` that ``allowed`` does not have."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if b not in allowed.get(a, set()))


def test_the_documented_layers_have_no_cycle():
    cycle = find_cycle(allowed_graph())
    assert cycle is None, ' -> '.join(cycle)


def test_imports_between_subpackages_are_the_documented_ones():
    graph, allowed = subpackage_graph(), allowed_graph()
    assert disallowed_imports(graph, allowed) == []
    assert set(graph) | {'version'} == set(allowed)
    # every documented arrow is used: the picture shows the real layers
    assert disallowed_imports(allowed, graph) == []


def test_a_disallowed_import_is_caught(tmp_path):
    package = tmp_path / 'hourglass_plugin'
    for unit in ('mpii', 'apis'):
        (package / unit).mkdir(parents=True)
        (package / unit / '__init__.py').write_text('')
    (package / 'apis' / 'run.py').write_text('from ..mpii import x\n')
    # a lazy import inside a function counts too
    (package / 'mpii' / 'joints.py'
     ).write_text('def f():\n    from hourglass_plugin.apis import run\n')
    graph = subpackage_graph(package)
    assert graph == {'apis': {'mpii'}, 'mpii': {'apis'}}
    assert disallowed_imports(graph, {
        'apis': {'mpii'},
        'mpii': set()
    }) == [('mpii', 'apis')]


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
