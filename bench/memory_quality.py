"""Memory quality (issue 16): does Mnemo recall what answers a question, better than a plain
embedding top-k over the same lines, without leaking DMs into public channels?

The dataset (bench/memory_quality/dataset.json, written by bench/memory_quality/generate.py): 24
people over Slack and Discord, DMs and public channels, 336 labelled questions (single facts, facts
spread over sessions, dates, updated facts, things never said, privacy traps). Everything goes
through the real pipeline with a real embedding model on the CPU (all-MiniLM-L6-v2 from
requirements-bench.txt) and the fake model's extraction. The fake model cannot judge which older
memories a new one replaces, so its update judge replaces nothing; Mnemo runs a second time with a
judge that knows the dataset's labels (the update mechanism's ceiling, not a model's quality).
Printed, not asserted.

Run: python bench/memory_quality.py [--quick]   (make bench installs requirements-bench.txt first)
The harness is importable: bench.memory_quality.run_benchmark returns the numbers as a dataclass.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The package bench/memory_quality/ (a package wins over this file of the same name on import).
from bench.memory_quality import QUICK_PEOPLE, format_report, run_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_PEOPLE} people")
    parser.add_argument("--recall-limit", type=int, default=None, help="default: MEMORY_RECALL_LIMIT (8)")
    args = parser.parse_args()
    # mem0 and the HTTP clients log every request at INFO; the table is what matters here.
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(
        run_benchmark(
            quick=args.quick, recall_limit=args.recall_limit, progress=lambda line: print(line, flush=True)
        )
    )
    print(format_report(result))


if __name__ == "__main__":
    main()
