"""Count the stops and climbs of one deploy's path through jobs/, from the source alone.

    .venv/bin/python scripts/deploy_path.py [--tree DIR] [--list]

Start at jobs.runbook.pipeline.deploy (jobs.pipeline.deploy in trees before the rooms) and
follow every call that passes the deploy on: a call whose arguments name the deploy's id, its
record or its context (`deploy_id`, `record`, `deploy`, `ctx`, or a name bound from one of
them). Each such call site is a stop; a stop whose callee sits in a lower room than its caller
is fine, one into a higher room is a climb (rooms in ROOM_ORDER, lowest first). A function is
followed once (its own calls are counted the first time it is reached), so a helper called
from ten places is ten stops but its body counts once.

Calls are resolved through imports (`from jobs.x import f`, `import jobs.x as m; m.f`) and a
few attributes whose type the code fixes (`ctx.runner.run`, `ctx.store.transition`,
`ctx.log.info`, `store.transition`, `lock.acquire`). Anything else (builtins, libraries,
dynamic dispatch) is not followed. The numbers are a yardstick for the same code measured
twice, not a proof; --list prints every stop so that a reader can check them.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CARRIERS = {"deploy_id", "record", "deploy", "ctx", "context"}
# Lowest first. A module's room is the longest prefix listed here; old loose modules (before
# the rooms) are placed in the room they moved to, so both trees are measured alike.
ROOM_ORDER = [
    "config",
    "jobs.failures",
    "jobs.state",
    "jobs.commands",
    "jobs.execution",
    "jobs.compose",
    "jobs.database",
    "jobs.swarm",
    "jobs.triggers",
    "jobs.gates",
    "jobs.report",
    "jobs.runbook.stages",
    "jobs.runbook",
    "jobs.operations",
    "jobs.doctor",
    "jobs.worker",
    "jobs.entry",
]
OLD_ROOMS = {
    "jobs.errors": "jobs.failures",
    "jobs.failures": "jobs.failures",
    "jobs.readback": "jobs.state",
    "jobs.redistext": "jobs.state",
    "jobs.refs": "jobs.commands",
    "jobs.runner": "jobs.execution",
    "jobs.deploylog": "jobs.execution",
    "jobs.context": "jobs.execution",
    "jobs.periodic": "jobs.execution",
    "jobs.compose_model": "jobs.compose",
    "jobs.zero_downtime": "jobs.compose",
    "jobs.images": "jobs.compose",
    "jobs.stages": "jobs.runbook.stages",
    "jobs.pipeline": "jobs.runbook",
    "jobs.outcome": "jobs.runbook",
    "jobs.revert": "jobs.runbook",
    "jobs.revert_start": "jobs.runbook",
    "jobs.recovery": "jobs.runbook",
    "jobs.hooks": "jobs.runbook",
    "jobs.freshness": "jobs.runbook",
    "jobs.worker": "jobs.worker",
    "jobs.runtime": "jobs.worker",
}
# Attributes whose class the code fixes: (attribute chain ending) -> class qualified name.
TYPED_ATTRIBUTES = {
    "runner": "Runner",
    "store": "DeployStore",
    "log": "DeployLog",
    "lock": "EnvironmentLock",
}
STARTS = ["jobs.runbook.pipeline.deploy", "jobs.pipeline.deploy"]


@dataclass
class Function:
    module: str
    name: str  # "f" or "Class.f"
    node: ast.FunctionDef | ast.AsyncFunctionDef
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified target

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


def room_of(module: str) -> str:
    in_a_room = any(module == r or module.startswith(r + ".") for r in ROOM_ORDER[1:])
    for old, room in OLD_ROOMS.items():
        if (module == old or module.startswith(old + ".")) and not in_a_room:
            return room
    best = ""
    for room in ROOM_ORDER:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    return best or module


def rank(room: str) -> int:
    return ROOM_ORDER.index(room) if room in ROOM_ORDER else -1


def load(tree: Path) -> dict[str, Function]:
    functions: dict[str, Function] = {}
    for path in sorted((tree / "jobs").rglob("*.py")):
        module = ".".join(path.relative_to(tree).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        parsed = ast.parse(path.read_text())
        imports = _imports(parsed, module)
        for node in parsed.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[f"{module}.{node.name}"] = Function(module, node.name, node, imports)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        name = f"{node.name}.{item.name}"
                        functions[f"{module}.{name}"] = Function(module, name, item, imports)
    return functions


def _imports(tree: ast.AST, module: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.walk(tree):  # function-level imports too: late imports are imports
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                found[local] = alias.name if alias.asname else local
    return found


def _carried(function: Function) -> set[str]:
    """The names in `function` that hold the deploy: carrier parameters and names bound
    from an expression that mentions one."""
    names = {a.arg for a in function.node.args.args if a.arg in CARRIERS}
    for node in ast.walk(function.node):
        if isinstance(node, ast.Assign) and _mentions(node.value, names | CARRIERS):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
    return names | (CARRIERS & {n.id for n in ast.walk(function.node) if isinstance(n, ast.Name)})


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _resolve(call: ast.Call, function: Function, functions: dict[str, Function]) -> str | None:
    target = call.func
    if isinstance(target, ast.Name):
        local = f"{function.module}.{target.id}"
        if local in functions:
            return local
        imported = function.imports.get(target.id)
        return imported if imported in functions else None
    if isinstance(target, ast.Attribute):
        base = target.value
        if isinstance(base, ast.Name) and base.id in function.imports:
            qualified = f"{function.imports[base.id]}.{target.attr}"
            return qualified if qualified in functions else None
        owner = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        cls = TYPED_ATTRIBUTES.get(owner or "")
        if owner in ("ctx", "context"):
            cls = "DeployContext"
        if cls:
            return next((q for q, f in functions.items() if f.name == f"{cls}.{target.attr}"), None)
    return None


@dataclass(frozen=True)
class Stop:
    caller: str
    callee: str
    line: int
    climb: bool


def walk(functions: dict[str, Function], start: str) -> Iterator[Stop]:
    seen = {start}
    queue = [start]
    while queue:
        function = functions[queue.pop(0)]
        carried = _carried(function)
        for node in ast.walk(function.node):
            if not isinstance(node, ast.Call):
                continue
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Attribute):
                arguments.append(node.func.value)  # ctx.save(): the context passes itself on
            if not any(_mentions(argument, carried) for argument in arguments):
                continue
            callee = _resolve(node, function, functions)
            if callee is None:
                continue
            low, high = rank(room_of(function.module)), rank(room_of(functions[callee].module))
            yield Stop(function.qualified, callee, node.lineno, high > low)
            if callee not in seen:
                seen.add(callee)
                queue.append(callee)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--list", action="store_true", help="print every stop")
    args = parser.parse_args()
    functions = load(args.tree)
    start = next((s for s in STARTS if s in functions), None)
    if start is None:
        print("no deploy entry found", file=sys.stderr)
        return 1
    stops = list(walk(functions, start))
    modules = {functions[s.callee].module for s in stops} | {start.rsplit(".", 1)[0]}
    if args.list:
        for stop in stops:
            mark = "CLIMB " if stop.climb else "      "
            print(f"{mark}{stop.caller}:{stop.line} -> {stop.callee}")
    climbs = sum(stop.climb for stop in stops)
    print(f"{len(stops)} stops in {len(modules)} modules, {climbs} climbs (from {start})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
