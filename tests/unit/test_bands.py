import re
from datetime import date
from pathlib import Path

import pytest

from arrears.domain.delinquency import (
    DEFAULT_BUCKETS,
    DEFAULT_STAGES,
    BandError,
    band_table,
    statement,
)
from arrears.service.books.bands import load_bands
from arrears.service.errors import ServiceError
from tests.unit.loans import example

CONFIG = Path(__file__).parents[2] / "config" / "delinquency.yaml"


def test_the_shipped_file_holds_the_defaults() -> None:
    bands = load_bands(CONFIG)
    assert bands.buckets == DEFAULT_BUCKETS
    assert bands.stages == DEFAULT_STAGES


def test_a_custom_stage_table_changes_the_stage(tmp_path: Path) -> None:
    path = tmp_path / "bands.yaml"
    path.write_text(
        "stages:\n"
        "  - {name: current, from: null, to: 0}\n"
        "  - {name: soft, from: 1, to: 40}\n"
        "  - {name: hard, from: 41, to: null}\n"
    )
    bands = load_bands(path)
    st = statement(example(), date(2026, 2, 19), buckets=bands.buckets, stages=bands.stages)
    assert (st.dpd, st.stage, st.bucket) == (35, "soft", "M2")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "a", "from": 0, "to": None}], "stages[0].from: the first band"),
        ([{"name": "a", "from": None, "to": 5}], "stages[0].to: the last band"),
        (
            [{"name": "a", "from": None, "to": 5}, {"name": "b", "from": 7, "to": None}],
            "stages[1].from: must be stages[0].to + 1",
        ),
        ([{"name": "", "from": None, "to": None}], "stages[0].name"),
        ([{"name": "a", "from": None, "to": "x"}], "stages[0].to: expected a whole number"),
    ],
)
def test_bad_tables_name_the_band(rows: list[dict[str, object]], message: str) -> None:
    with pytest.raises(BandError, match=re.escape(message)):
        band_table(rows, "stages")


def test_a_bad_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("buckets: [{name: M0, from: 3, to: null}]\n")
    with pytest.raises(ServiceError, match="bad.yaml: buckets"):
        load_bands(path)
