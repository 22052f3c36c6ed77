"""Wall time of ``yinzi`` commands as a user runs them: a fresh process each time.

    python bench/cli.py [--runs 5] [--src PATH]

Each command runs ``--runs`` times on a migrated throwaway data folder holding one account; the
table gives the median and the fastest run in seconds. ``--src`` times another source tree (an
older checkout, for a before/after comparison) with the same Python.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("--help",), ("accounts", "list"), ("engines",), ("models", "list"))


def run(args: tuple[str, ...], env: dict[str, str]) -> float:
    """Seconds one ``yinzi ARGS`` process takes, start to exit."""
    cmd = [sys.executable, "-c", "from yinzi.cli import main; main()", *args]
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yinzi-bench-cli-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(options.src.resolve()),
            "YINZI_DATA_DIR": str(Path(tmp) / "data"),
        }
        run(("migrate",), env)
        run(("accounts", "create", "bench@example.com"), env)
        print(f"yinzi from {options.src.resolve()}, {options.runs} runs each\n")
        print("| command | median s | fastest s |")
        print("|---|---|---|")
        for args in COMMANDS:
            times = [run(args, env) for _ in range(options.runs)]
            name = "yinzi " + " ".join(args)
            print(f"| `{name}` | {statistics.median(times):.2f} | {min(times):.2f} |")


if __name__ == "__main__":
    main()
