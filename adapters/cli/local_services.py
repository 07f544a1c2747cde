"""Start and stop the local PostgreSQL / Redis / Elasticsearch through deploy/services.sh (bench use)."""
from __future__ import annotations

import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "services.sh"


class LocalServices:
    """Context manager: starts the named services if they are not running, stops those it started."""

    def __init__(self, *names: str):
        self.names = names
        self.started: list[str] = []

    def __enter__(self) -> dict[str, str]:
        if not DEPLOY.exists():
            raise RuntimeError(f"{DEPLOY} not found: run benchmarks from a source checkout")
        for name in self.names:
            running = subprocess.run(["bash", str(DEPLOY), "status", name], capture_output=True).returncode == 0
            if not running:
                subprocess.run(["bash", str(DEPLOY), "start", name], check=True, stdout=subprocess.DEVNULL)
                self.started.append(name)
        output = subprocess.run(["bash", str(DEPLOY), "env"], check=True, capture_output=True, text=True).stdout
        found = {}
        for line in output.splitlines():
            line = line.removeprefix("export ").strip()
            if "=" in line:
                key, _, value = line.partition("=")
                found[key] = value.strip("'\"")
        return found

    def __exit__(self, *exc_info: object) -> None:
        for name in reversed(self.started):
            subprocess.run(["bash", str(DEPLOY), "stop", name], stdout=subprocess.DEVNULL)
