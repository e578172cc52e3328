"""The layering ``doc/source/architecture.rst`` draws: no module imports a module of a
higher layer, not even inside a function, so no import cycle is dodged by deferring it."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]

#: Lowest first; a module belongs to the longest prefix listed.
LAYERS: list[tuple[str, ...]] = [
    ("tracing_middleware", "tracing_middleware._guard", "tracing_middleware.spancontext",
     "tracing_middleware.errors", "tracing_middleware.unit", "tracing_middleware.httputil",
     "tracing_middleware.osprofiler_info", "tracing_middleware.lifecycle",
     "tracing_middleware.propagation", "tracing_middleware.sampling",
     "tracing_middleware.scope", "tracing_middleware.integrations",
     "tracing_middleware.integrations.base", "tracing_middleware.export.records"),
    ("tracing_middleware.opts", "tracing_middleware.config",
     "tracing_middleware.export.store_url"),
    ("tracing_middleware.export", "tracing_middleware.plugins", "tracing_middleware.metrics"),
    ("tracing_middleware.facade",),
    ("tracing_middleware.registry",),
    ("tracing_middleware.tracer", "tracing_middleware.integrations._http",
     *(f"tracing_middleware.integrations.{name}" for name in (
         "asyncio", "eventlet", "futurist", "httpx", "keystoneauth1", "logging",
         "osprofiler", "requests", "sqlalchemy", "threading", "urllib3"))),
    ("tracing_middleware.filter", "tracing_middleware.wsgi", "tracing_middleware.testing",
     "messaging_driver"),
    ("tracing_middleware.cmd", "tracing_middleware.views", "tracing_middleware.demo",
     "tracing_middleware.enable"),
]


def _layer(module: str) -> int | None:
    best, layer = "", None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(
                    best):
                best, layer = prefix, index
    return layer


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path, module: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it; ``from pkg import name`` counts
    as ``pkg.name`` when that is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = importlib.util.find_spec(candidate.split(".")[0]) is not None \
                    and _is_module(candidate)
                found.add(candidate if is_module else base)
    return {name for name in found if name.split(".")[0] in ("tracing_middleware",
                                                               "messaging_driver")}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_module_has_a_layer():
    """A new module is placed deliberately, in the test and in the architecture page."""
    modules = [_module_name(p) for pkg in ("tracing_middleware", "messaging_driver")
               for p in (ROOT / pkg).rglob("*.py")]
    assert [m for m in modules if _layer(m) is None] == []


def test_no_module_imports_a_higher_layer():
    upward = []
    for pkg in ("tracing_middleware", "messaging_driver"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            module = _module_name(path)
            own = _layer(module)
            for imported in sorted(_imports(path, module)):
                layer = _layer(imported)
                if layer is not None and own is not None and layer > own:
                    upward.append(f"{module} (layer {own}) imports {imported} "
                                  f"(layer {layer})")
    assert upward == []
