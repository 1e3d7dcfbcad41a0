"""The scalar reference cycle on a Parquet snapshot (a child process of bench/cycle.py).

python bench/cycle_ref.py LAKE_DIR YYYY-MM-DD
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from arrears.cycle.scalar_engine import reference_plan
from arrears.cycle.snapshot import from_parquet
from arrears.domain.delinquency import DEFAULT_BUCKETS
from arrears.strategy.model import load


def main() -> None:
    snap = from_parquet(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]))
    plan = reference_plan(snap, load("default"), buckets=DEFAULT_BUCKETS)
    print(f"{plan.num_rows} actions")


if __name__ == "__main__":
    main()
