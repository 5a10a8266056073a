"""`make lint`: the production dependency set (pyproject's `dependencies`, with everything they
pull in, as installed) holds no development tool: nothing the `dev` or `devtools` extras name.

The production image installs `pip install .`; a tool that sneaks into that set (directly, or
through another package's requirements) would ship with every service."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "headstore"


def requirements_closure(roots: list[Requirement]) -> dict[str, str]:
    """Each installed distribution the requirements pull in, with the chain that brings it."""
    seen: dict[str, str] = {}
    pending = [(requirement, requirement.name) for requirement in roots]
    while pending:
        requirement, chain = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate()):
            continue
        seen[name] = chain
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{requirement.name} is not installed (make setup)") from None
        for line in distribution.requires or []:
            child = Requirement(line)
            # Only what the base install brings: extras' requirements carry an `extra` marker.
            if child.marker and not child.marker.evaluate({"extra": ""}):
                continue
            wanted = {canonicalize_name(extra) for extra in requirement.extras}
            if child.marker and "extra" in str(child.marker) and not wanted:
                continue
            pending.append((child, f"{chain} -> {child.name}"))
    return seen


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    production = [Requirement(line) for line in project["dependencies"]]
    development = {
        canonicalize_name(Requirement(line).name)
        for extra in ("dev", "devtools")
        for line in project["optional-dependencies"][extra]
    } - {PROJECT}
    closure = requirements_closure(production)
    found = sorted(name for name in development if name in closure)
    for name in found:
        print(f"development tool in the production dependencies: {closure[name]}")
    if found:
        return 1
    print(
        f"production dependencies: {len(closure)} distributions, "
        f"none of the {len(development)} development tools"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
