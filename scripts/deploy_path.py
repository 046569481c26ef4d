"""Count the stops and climbs of one deploy's path through jobs/, from the source alone.

    .venv/bin/python scripts/deploy_path.py [--tree DIR] [--list]

The issue's definition (#18): start at jobs.runbook.pipeline.deploy (jobs.pipeline.deploy in
trees before the rooms) and follow the deploy id through every call that passes it on, in
the order the code makes them (depth first, each function's calls top to bottom).

- A call passes the deploy on when an argument, or the object whose method it calls, is the
  deploy itself: its id, record or context (`deploy_id`, `record`, `deploy`, `ctx`,
  `context`), their `.deploy` or `.id`, or a name bound from one of those (`lock =
  EnvironmentLock(..., record.id ...)`). A tool hanging off the context (`ctx.log.info`,
  `ctx.runner.run`) is not the deploy.
- A stop is such a call from one module into another; calls inside a module are followed but
  not counted. A function's own calls are followed the first time it is reached, so a helper
  called from ten places is ten stops but its body counts once.
- A climb is the path climbing back up: a stop made from a higher room than the one the
  previous stop went into (rooms in ROOM_ORDER, lowest first), as when a stage returns to
  the runbook and the runbook calls the next stage.
- A function handed over as a value (a stage's action in `stage(ctx, name, action)`, a
  table's row) is not followed: the path counts the calls the code makes, not what a callee
  does with what it is given. Calls are resolved through imports (`from jobs.x import f`,
  `import jobs.x as m; m.f`) and the few attributes whose type the code fixes (`ctx.store`,
  `store`, `lock`, `ctx.runner`, `ctx.log`); builtins, libraries and dynamic dispatch are not.

The numbers are a yardstick for the same code measured twice, not a proof; --list prints
every stop (climbs marked) so that a reader can check them. "calls up" counts the stops
whose callee sits in a higher room than its caller (the import direction).
"""

from __future__ import annotations

import argparse
import ast
import sys
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
    "jobs.secrets",
    "jobs.offsite",
    "jobs.database",
    "jobs.swarm",
    "jobs.triggers",
    "jobs.report",
    "jobs.gates",
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


IDENTITY_ATTRIBUTES = {"deploy", "id", "deploy_id"}


def _is_deploy(node: ast.AST, carried: set[str]) -> bool:
    """`node` is the deploy itself: a carrier name, its .deploy or .id, or a call passing it."""
    if isinstance(node, ast.Name):
        return node.id in carried
    if isinstance(node, ast.Attribute) and node.attr in IDENTITY_ATTRIBUTES:
        return _is_deploy(node.value, carried)
    if isinstance(node, ast.Call):
        return _passes(node, carried)
    return False


def _passes(call: ast.Call, carried: set[str]) -> bool:
    """The call hands the deploy to its callee, as an argument or as the method's object."""
    arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
    if isinstance(call.func, ast.Attribute):
        arguments.append(call.func.value)  # ctx.save(): the context passes itself on
    return any(_is_deploy(argument, carried) for argument in arguments)


def _carried(function: Function) -> set[str]:
    """The names in `function` that hold the deploy: carrier parameters and names bound
    from the deploy itself."""
    parameters = [*function.node.args.args, *function.node.args.kwonlyargs]
    names = {a.arg for a in parameters} & CARRIERS
    names |= CARRIERS & {n.id for n in ast.walk(function.node) if isinstance(n, ast.Name)}
    grew = True
    while grew:
        grew = False
        for node in ast.walk(function.node):
            if isinstance(node, ast.Assign) and _is_deploy(node.value, names):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in names:
                        names.add(target.id)
                        grew = True
    return names


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
    up: bool  # into a higher room than the caller's
    climb: bool = False  # made from a higher room than the previous stop went into


def walk(functions: dict[str, Function], start: str) -> list[Stop]:
    seen = {start}
    stops: list[Stop] = []

    def follow(qualified: str) -> None:
        function = functions[qualified]
        carried = _carried(function)
        calls = [node for node in ast.walk(function.node) if isinstance(node, ast.Call)]
        for node in sorted(calls, key=lambda call: (call.lineno, call.col_offset)):
            if not _passes(node, carried):
                continue
            callee = _resolve(node, function, functions)
            if callee is None:
                continue
            into = functions[callee].module
            if into != function.module:
                low, high = rank(room_of(function.module)), rank(room_of(into))
                previous = room_of(functions[stops[-1].callee].module) if stops else None
                climb = previous is not None and rank(room_of(function.module)) > rank(previous)
                stops.append(Stop(function.qualified, callee, node.lineno, high > low, climb))
            if callee not in seen:
                seen.add(callee)
                follow(callee)

    follow(start)
    return stops


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
    stops = walk(functions, start)
    modules = {functions[s.callee].module for s in stops} | {start.rsplit(".", 1)[0]}
    if args.list:
        for stop in stops:
            mark = ("CLIMB " if stop.climb else "      ") + ("UP " if stop.up else "   ")
            print(f"{mark}{stop.caller}:{stop.line} -> {stop.callee}")
    climbs = sum(stop.climb for stop in stops)
    up = sum(stop.up for stop in stops)
    print(
        f"{len(stops)} stops in {len(modules)} modules, {climbs} climbs, {up} calls up "
        f"(from {start})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
