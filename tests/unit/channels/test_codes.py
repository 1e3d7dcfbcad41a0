"""Verification codes: unambiguous letters, forgiving to read back, hard to guess."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arrears.channels.codes import ALPHABET, LENGTH, new_code, normalise, shown


def test_codes_use_the_unambiguous_alphabet_and_differ() -> None:
    made = {new_code() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in made)
    assert not set("ILOU") & set(ALPHABET)


@given(st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH))
def test_a_code_reads_back_however_it_is_typed(code: str) -> None:
    assert normalise(shown(code)) == code
    assert normalise(" " + shown(code).lower().replace("-", " - ") + " ") == code


def test_lookalike_letters_are_read_as_digits() -> None:
    assert normalise("O1L2-I3o4") == "01121304"


def test_what_cannot_be_a_code_is_refused() -> None:
    for text in ("", "ABC", "ABCD-EFGH-J", "ABCD-EFG!", "ABCD-EFGU", "一二三四五六七八"):
        assert normalise(text) is None, text
