"""One finding of the doctor: what was checked, how it went, what was seen and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but a deploy or a delivery is at risk
    FAIL = "fail"  # a deploy of this environment would fail or lose data
    SKIP = "skip"  # not checked: something it needs failed first


@dataclass(frozen=True)
class Finding:
    target: str  # "crm/prod", or "deployhook" for server-wide checks
    check: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}
        text = f"{mark[self.status]:<4} {self.target:<16} {self.check:<10} {self.detail}"
        return text + (f"\n{'':<32}fix: {self.fix}" if self.fix else "")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


def ok(target: str, check: str, detail: str) -> Finding:
    return Finding(target, check, Status.OK, detail)


def fail(target: str, check: str, detail: str, fix: str) -> Finding:
    return Finding(target, check, Status.FAIL, detail, fix)


def warn(target: str, check: str, detail: str, fix: str) -> Finding:
    return Finding(target, check, Status.WARN, detail, fix)


def skip(target: str, check: str, because: str) -> Finding:
    return Finding(target, check, Status.SKIP, f"not checked: {because}")
