"""The DPD bucket and stage tables in force: the defaults, or the file named in settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from arrears.domain.delinquency import (
    DEFAULT_BUCKETS,
    DEFAULT_STAGES,
    BandError,
    BandTable,
    band_table,
)
from arrears.parsing import ParseLimit, load_yaml
from arrears.service.errors import Invalid
from arrears.settings import Settings


@dataclass(frozen=True)
class Bands:
    buckets: BandTable = DEFAULT_BUCKETS
    stages: BandTable = DEFAULT_STAGES


def load_bands(path: Path | None) -> Bands:
    """Read ``buckets`` and ``stages`` from a YAML file; either may be left out."""
    if path is None:
        return Bands()
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
    except ParseLimit as exc:
        raise Invalid(str(exc)) from exc
    except OSError as exc:
        raise Invalid(f"{path}: cannot read the delinquency tables ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise Invalid(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise Invalid(f"{path}: expected a mapping with buckets and stages")
    try:
        return Bands(
            buckets=band_table(data["buckets"], "buckets")
            if "buckets" in data
            else DEFAULT_BUCKETS,
            stages=band_table(data["stages"], "stages") if "stages" in data else DEFAULT_STAGES,
        )
    except BandError as exc:
        raise Invalid(f"{path}: {exc}") from exc


def bands_for(settings: Settings) -> Bands:
    return load_bands(settings.delinquency_file)
