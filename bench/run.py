"""`make bench`: run every bench/bench_*.py in turn; each prints its figures and targets."""

import subprocess
import sys
from pathlib import Path


def main():
    failed = 0
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        failed |= subprocess.run([sys.executable, str(script)], check=False).returncode
    sys.exit(failed)


if __name__ == "__main__":
    main()
