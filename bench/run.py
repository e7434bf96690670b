"""`make bench`: run every bench/bench_*.py in turn; each prints its own figures."""

import subprocess
import sys
from pathlib import Path

failed = []
for bench in sorted(Path(__file__).parent.glob("bench_*.py")):
    print(f"== {bench.name}", flush=True)
    if subprocess.run([sys.executable, str(bench)]).returncode:
        failed.append(bench.name)
if failed:
    sys.exit(f"failed: {', '.join(failed)}")
