"""Worlds for the simulator: the file format people write worlds in (every problem named with
the file, the world and the field), draws that are the same for the same seed, shifted sealed
worlds, and seeds the learner never reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from arrears.learn import worlds as w
from arrears.learn.sealed import SEEDS, sealed_worlds
from arrears.learn.worlds import TYPES, WorldsError, draw, load_worlds, training_worlds

GOOD = """
worlds:
  - name: base
    seed: 7
    type_mix: {forgets: 0.45, hardship: 0.2, strategic: 0.15, unreachable: 0.1, never: 0.1}
    contact_rate: 0.25
    effects:
      forgets: {daily_hazard: 0.02, reminder_lift: 4.0}
  - name: downturn
    seed: 8
    type_mix: {forgets: 0.3, hardship: 0.4, strategic: 0.1, unreachable: 0.1, never: 0.1}
    contact_rate: 0.15
"""


def test_a_worlds_file_is_read_with_the_defaults_under_its_own_effects(tmp_path: Path) -> None:
    path = tmp_path / "worlds.yaml"
    path.write_text(GOOD, encoding="utf-8")
    base, downturn = load_worlds(path)
    assert (base.name, base.seed, base.contact_rate) == ("base", 7, 0.25)
    f = base.effects_of("forgets")
    assert (f.daily_hazard, f.reminder_lift) == (0.02, 4.0)
    assert f.conversation_lift == w.DEFAULT_EFFECTS["forgets"].conversation_lift  # default kept
    assert downturn.effects_of("hardship") == w.DEFAULT_EFFECTS["hardship"]
    kinds = base.types(4000)
    assert kinds == base.types(4000)  # the same seed, the same borrowers
    share = kinds.count("forgets") / len(kinds)
    assert abs(share - 0.45) < 0.03
    json_path = tmp_path / "worlds.json"
    json_path.write_text(
        '{"worlds": [{"name": "j", "seed": 1, "type_mix": {"never": 1.0}}]}', encoding="utf-8"
    )
    (only,) = load_worlds(json_path)
    assert set(only.types(50)) == {"never"}


def test_every_problem_of_a_worlds_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
worlds:
  - name: sums-wrong
    seed: 1
    type_mix: {forgets: 0.5, hardship: 0.2}
  - name: unknown-type
    seed: 2
    type_mix: {forgets: 0.5, lazy: 0.5}
  - name: bad-effect
    seed: 3
    type_mix: {forgets: 1.0}
    effects: {forgets: {daily_hazard: 1.5}}
  - name: no-seed
    type_mix: {forgets: 1.0}
    colour: red
  - name: two-wrongs
    seed: 5
    contact_rate: 2
    type_mix: {forgets: 0.9}
  - name: many-wrongs
    seed: 6
    type_mix: {forgets: 0.5, lazy: 0.2}
    effects: {forgets: {daily_hazard: 2, reminder_lift: -1}, hardship: {offer_lift: -2}, x.y: {}}
""",
        encoding="utf-8",
    )
    with pytest.raises(WorldsError) as caught:
        load_worlds(path)
    said = caught.value.problems
    assert any("worlds[0] (sums-wrong)" in p and "add up to 0.7" in p for p in said), said
    assert any("worlds[1] (unknown-type)" in p and "unknown type 'lazy'" in p for p in said)
    assert any("worlds[2] (bad-effect)" in p and "effects.forgets.daily_hazard" in p for p in said)
    assert any("worlds[3] (no-seed): seed: Field required" in p for p in said), said
    assert any("worlds[3] (no-seed): colour" in p for p in said), said
    # a field's problem and a check across the mix's shares, both reported
    assert any("worlds[4] (two-wrongs): contact_rate" in p for p in said), said
    assert any("worlds[4] (two-wrongs): type_mix" in p and "add up to 0.9" in p for p in said)
    # every problem of a world, each named in full
    mine = [p.split("(many-wrongs): ", 1)[1] for p in said if "(many-wrongs)" in p]
    assert any(p.startswith("type_mix: unknown type 'lazy'") for p in mine), mine
    assert any(p.startswith("type_mix: the shares must add up to 1") for p in mine), mine
    for field in ("forgets.daily_hazard", "forgets.reminder_lift", "hardship.offer_lift"):
        assert any(p.startswith(f"effects.{field}: ") for p in mine), (field, mine)
    assert any(p.startswith("effects: unknown type 'x.y'") for p in mine), mine
    assert all(p.startswith(f"{path}: ") for p in said)
    missing = tmp_path / "none.yaml"
    with pytest.raises(WorldsError, match="none.yaml"):
        load_worlds(missing)
    empty = tmp_path / "empty.yaml"
    empty.write_text("worlds: []\n", encoding="utf-8")
    with pytest.raises(WorldsError, match="expected a list of worlds"):
        load_worlds(empty)


def test_draws_repeat_and_sealed_worlds_are_shifted() -> None:
    assert draw("a", 5) == draw("a", 5) and draw("a", 5) != draw("a", 6)
    train = training_worlds(20)
    assert len({x.seed for x in train}) == 20 and not {x.seed for x in train} & set(SEEDS)
    for x in train:
        assert 0.2 <= x.contact_rate <= 0.3 and abs(sum(x.type_mix.values()) - 1) < 1e-9
        assert set(x.type_mix) == set(TYPES)
    sealed = sealed_worlds()
    base = [x for x in sealed if "shifted" not in x.name]
    shifted = [x for x in sealed if "shifted" in x.name]
    assert len(base) == len(shifted) == len(SEEDS) // 2
    mean = lambda xs, f: sum(f(x) for x in xs) / len(xs)  # noqa: E731
    assert mean(shifted, lambda x: x.type_mix["hardship"]) > 1.3 * mean(
        base, lambda x: x.type_mix["hardship"]
    )
    assert mean(shifted, lambda x: x.contact_rate) < 0.75 * mean(base, lambda x: x.contact_rate)


def test_only_the_judge_reads_the_sealed_seeds() -> None:
    """No module of arrears.learn but the evaluation imports arrears.learn.sealed."""
    root = Path(w.__file__).parent
    readers = []
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if "arrears.learn.sealed" in names:
                readers.append(path.stem)
    assert set(readers) <= {"evaluate"}, readers


def test_a_worlds_file_that_is_not_yaml_is_named_with_its_line_and_column(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "w.yaml"
    bad.write_text("worlds:\n  - {name: a, seed: 1,\n     type_mix: {forgets: 1.0} x}\n")
    with pytest.raises(WorldsError) as err:
        load_worlds(bad)
    assert err.value.problems[0].startswith(f"{bad}: line 3, column ")
    assert "expected ',' or '}'" in err.value.problems[0]
    empty = tmp_path / "empty.yaml"
    empty.write_text("worlds:\n  - 7\n")
    with pytest.raises(WorldsError) as err:
        load_worlds(empty)
    assert "(world)" not in err.value.problems[0] and "worlds[0]" in err.value.problems[0]
