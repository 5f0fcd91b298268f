#!/usr/bin/python3
"""The type stubs (attnc/__init__.pyi, attnc/_native.pyi) against the package itself:
every public name of the package, Model and Session (and of _native) has a stub, every
stub names something that exists, and each function's parameters (names, kinds, which
have defaults) are the real ones. Python callables are read with inspect.signature,
pybind11 ones from the signature line pybind11 puts first in their docstring.
Prints one line per mismatch and 'stubs: N checked, M mismatches'; exits 1 on any."""
import ast
import inspect
import os
import re
import sys

import attnc
import attnc._native as native

problems = []
checked = 0


def stub_params(fn):
    """[(name, kind, has_default)] of an ast.FunctionDef, without self."""
    a = fn.args
    out = []
    pos = a.posonlyargs + a.args
    first_default = len(pos) - len(a.defaults)
    for i, p in enumerate(pos):
        out.append((p.arg, "positional", i >= first_default))
    if a.vararg:
        out.append((a.vararg.arg, "*", False))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, "keyword", d is not None))
    if a.kwarg:
        out.append((a.kwarg.arg, "**", False))
    return [p for p in out if p[0] != "self"]


def python_params(obj):
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "positional",
             inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.KEYWORD_ONLY: "keyword",
             inspect.Parameter.VAR_KEYWORD: "**"}
    return [(p.name, kinds[p.kind], p.default is not inspect.Parameter.empty)
            for p in inspect.signature(obj).parameters.values() if p.name != "self"]


def split_top(text):
    parts, depth, cur = [], 0, ""
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur)
    return parts


def pybind_params(obj):
    """Parameters from pybind11's docstring signature 'name(a: T, b: T = x) -> R'."""
    line = (obj.__doc__ or "").strip().splitlines()[0]
    m = re.match(r"\w+\((.*)\) ->", line)
    if not m:
        raise ValueError("no signature in docstring: %r" % line)
    out = []
    for p in split_top(m.group(1)):
        name = p.split(":")[0].strip()
        if name != "self":
            out.append((name, "positional", "=" in p))
    return out


def check_function(where, stub_fns, real, pybind):
    global checked
    checked += 1
    real_params = pybind_params(real) if pybind else python_params(real)
    if real_params and real_params[-1] == ("options", "**", False) and real is attnc.compile:
        # compile(**options): the stub spells out the options compile() accepts
        real_params = real_params[:-1] + [(o, "keyword", True) for o in attnc._OPTIONS]
    overloaded = len(stub_fns) > 1
    for fn in stub_fns:
        sp = stub_params(fn)
        rp = real_params
        if overloaded:  # an overload may drop a default (Literal[True] flags)
            sp = [(n, k) for n, k, d in sp]
            rp = [(n, k) for n, k, d in real_params]
        elif pybind:  # pybind11 takes every argument by position or keyword
            sp = [(n, "positional", d) for n, k, d in sp]
        if sp != rp:
            problems.append("%s: stub %s != real %s" % (where, sp, rp))


def check_scope(where, body, real, pybind, public):
    """Stubs of one module or class `body` against the object `real`."""
    global checked
    stubs = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stubs.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            stubs.setdefault(node.target.id, []).append(node)
        elif isinstance(node, ast.ImportFrom):  # from ._native import X as X
            for alias in node.names:  # only re-exports ("X as X"), not typing imports
                if alias.asname == alias.name:
                    stubs.setdefault(alias.name, []).append(node)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    stubs.setdefault(t.id, []).append(node)
    for name in public:
        if name not in stubs:
            problems.append("%s.%s: no stub" % (where, name))
    for name, nodes in stubs.items():
        if name in ("TensorInfo",):  # a typing alias of the stubs only
            continue
        if name.startswith("_") and name not in ("__init__", "__call__", "__version__"):
            continue
        attr = inspect.getattr_static(real, name, None) if inspect.isclass(real) else \
            getattr(real, name, None)
        node = nodes[0]
        if attr is None and inspect.isclass(real) and isinstance(node, ast.AnnAssign) and \
                re.search(r"self\.%s\s*=" % name, inspect.getsource(real)):
            checked += 1  # an instance attribute its __init__ sets
            continue
        if attr is None:
            problems.append("%s.%s: stubbed but does not exist" % (where, name))
            continue
        if isinstance(node, ast.ClassDef):
            check_scope("%s.%s" % (where, name), node.body, getattr(real, name), pybind,
                        public_members(getattr(real, name), pybind))
            continue
        if not isinstance(node, ast.FunctionDef):
            checked += 1
            continue
        is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
        if is_prop != isinstance(attr, property):
            problems.append("%s.%s: property in the stub %s, real %s" % (
                where, name, is_prop, type(attr).__name__))
            continue
        if is_prop:
            checked += 1
            continue
        if name == "__init__" and pybind:
            checked += 1
            continue
        check_function("%s.%s" % (where, name), nodes, getattr(real, name), pybind)


def public_members(cls, pybind):
    names = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in ("__call__",):
            continue
        names.append(name)
    return names


def parse(path):
    return ast.parse(open(path).read(), path).body


pkg = os.path.dirname(attnc.__file__)
check_scope("attnc", parse(os.path.join(pkg, "__init__.pyi")), attnc, False,
            list(attnc.__all__) + ["__version__"])
native_public = [n for n in dir(native) if not n.startswith("_")]
check_scope("attnc._native", parse(os.path.join(pkg, "_native.pyi")), native, True,
            native_public)
for p in problems:
    print("MISMATCH", p)
print("stubs: %d checked, %d mismatches" % (checked, len(problems)))
sys.exit(1 if problems else 0)
