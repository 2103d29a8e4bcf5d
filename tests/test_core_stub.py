"""The committed stub python/relu1d/_core.pyi against the compiled module it describes.

The stub is generated; after changing a binding, regenerate it with

    python -m pybind11_stubgen relu1d._core -o python --numpy-array-use-type-var

The comparison is of names, not of the generator's text (which varies with the pybind11 and
pybind11-stubgen versions): the module's functions, classes, methods, properties and constants,
and each callable's argument names in order, must be those of the stub.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import relu1d
from relu1d import _core

STUB = Path(relu1d.__file__).with_name("_core.pyi")


def _params(args: ast.arguments) -> tuple:
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return tuple(n for n in names if n != "self")


def stub_api() -> dict:
    """name -> argument names (callables) or None (properties, attributes), qualified by class."""
    tree = ast.parse(STUB.read_text())
    api = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef):
                api[prefix + node.name] = "class"
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.FunctionDef):
                decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "")
                              for d in node.decorator_list}
                if "property" in decorators or "setter" in decorators:
                    api[prefix + node.name] = None
                elif "overload" not in decorators:
                    api[prefix + node.name] = _params(node.args)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.target.id != "__all__":
                    api[prefix + node.target.id] = None
    visit(tree.body, "")
    return api


_SIGNATURE = re.compile(r"^\s*(?:\w+\.)*(\w+)\((.*)\)\s*->")


def _signature_args(doc: str) -> tuple:
    """Argument names from pybind11's signature line, e.g. 'loss(self: ..., theta: object) -> float'."""
    match = _SIGNATURE.match(doc.splitlines()[0])
    assert match, doc
    names = []
    depth, current = 0, ""
    for ch in match.group(2) + ",":
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            name = current.split(":")[0].split("=")[0].strip()
            if name and name not in ("self", "*"):
                names.append(name)
            current = ""
        else:
            current += ch
    return tuple(names)


def module_api() -> dict:
    api = {}
    for name, obj in vars(_core).items():
        if name.startswith("__"):
            continue
        if inspect.isclass(obj):
            api[name] = "class"
            for attr, member in vars(obj).items():
                if attr.startswith("__") and attr != "__init__":
                    continue
                if attr.startswith("_pybind11"):
                    continue
                if isinstance(member, property):
                    api[f"{name}.{attr}"] = None
                elif callable(member):
                    api[f"{name}.{attr}"] = _signature_args(member.__doc__)
        elif callable(obj):
            api[name] = _signature_args(obj.__doc__)
        else:
            api[name] = None
    return api


def test_stub_matches_the_compiled_module():
    stub, module = stub_api(), module_api()
    assert sorted(set(module) - set(stub)) == [], "in the module, missing from _core.pyi: regenerate the stub"
    assert sorted(set(stub) - set(module)) == [], "in _core.pyi, gone from the module: regenerate the stub"
    differ = {k: (stub[k], module[k]) for k in module if stub[k] != module[k]}
    assert differ == {}, "argument names differ between _core.pyi and the module (stub, module)"


def test_every_bound_callable_names_its_arguments():
    # pybind11 calls unnamed arguments arg0, arg1, ...: every binding gives py::arg names instead
    unnamed = {k: v for k, v in module_api().items() if isinstance(v, tuple) and any(re.fullmatch(r"arg\d+", a)
                                                                                       for a in v)}
    assert unnamed == {}
