"""Run every bench/bench_*.py in turn (`make bench`); each prints its figures and targets."""

import subprocess
import sys
from pathlib import Path


def main() -> int:
    status = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        status |= subprocess.call([sys.executable, str(script)])
    return status


if __name__ == "__main__":
    sys.exit(main())
