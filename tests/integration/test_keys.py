"""Personal data at rest: randomised sealing (equal names, different bytes), message words sealed,
and key rotation in batches that can be stopped and run again, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.bootstrap import App, bootstrap
from arrears.channels.outbox import Outbox
from arrears.generate.portfolio import Options as GenOptions
from arrears.generate.portfolio import generate
from arrears.service.borrower.signin import find_borrower
from arrears.service.daily.cycle import run_cycle
from arrears.service.outreach.dispatch import dispatch
from arrears.service.outreach.state import BODY, Options
from arrears.service.outreach.verify import CONTENT, verify
from arrears.service.staff.keys import rotate, status
from arrears.settings import Env, Settings
from arrears.store import tables as t
from arrears.store.crypto import Cipher
from arrears.store.db import upgrade
from arrears.store.ingest.loader import ingest
from arrears.strategy.model import load
from tests.conftest import FIXED_NOW

DAY = date(2026, 11, 23)
K1, K2 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))


def _app(url: str, key: str, old: str = "") -> App:
    settings = Settings(env=Env.TEST, database_url=url, data_key=key, old_data_keys=old)
    return bootstrap(settings, clock=lambda: FIXED_NOW)


class Stop(Exception):
    pass


def test_a_rotation_seals_everything_again_and_can_be_resumed(
    store_url: str, tmp_path: Path
) -> None:
    first = _app(store_url, K1)
    upgrade(first.engine)
    generate(tmp_path / "gen", GenOptions(loans=150, seed=8, as_of=DAY))
    ingest(first.engine, first.cipher, [tmp_path / "gen"], clock=lambda: FIXED_NOW)
    run_cycle(first, DAY, strategy=load("default"))
    box = Outbox(None)
    dispatch(
        first,
        dict.fromkeys(("sms", "push", "email", "letter", "robocall"), box),
        Options(worker="w"),
    )
    with first.engine.connect() as conn:
        names = conn.execute(select(t.borrower.c.name_enc)).scalars().all()
        message = conn.execute(
            select(t.outbox_message.c.body).where(t.outbox_message.c.channel == "sms").limit(1)
        ).scalar_one()
        words = conn.execute(
            select(t.contact_attempt.c.content)
            .where(t.contact_attempt.c.content.is_not(None))
            .limit(1)
        ).scalar_one()
    first.engine.dispose()
    assert len(set(names)) == len(names)  # randomised: no two ciphertexts alike
    assert message.startswith("enc1:") and words.startswith("enc1:")
    plain = first.cipher.open_text(BODY, message)
    assert plain and "enc1:" not in plain
    found = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", plain)
    assert found
    code = found.group()
    nid = None
    for line in (tmp_path / "gen" / "borrowers.csv").read_text(encoding="utf-8").splitlines()[1:]:
        nid = line.split(",")[2]
        break
    assert nid

    # the new key in force, the old one kept: everything still opens and is found
    second = _app(store_url, K2, K1)
    assert verify(second, code).genuine
    assert find_borrower(second, nid) is not None
    before = status(second)
    for name in ("borrower", "contact_point", "outbox_message"):  # all under the old key
        assert before[name][1] == before[name][0] > 0

    def stop_after_some(name: str, n: int) -> None:
        if name == "contact_point":
            raise Stop

    with pytest.raises(Stop):  # stopped part way: what committed stays, the rest is left
        rotate(second, batch=40, progress=stop_after_some)
    half = status(second)
    assert half["borrower"][1] == 0 and half["contact_point"][1] > 0
    done = rotate(second, batch=40)
    assert done["borrower"] == 0 and done["contact_point"] > 0  # picked up where it stopped
    assert all(stale == 0 for _, stale in status(second).values())
    second.engine.dispose()

    # the old key gone: everything still opens, lookups still find, codes issued before the
    # rotation no longer answer (only their hash was kept, under the old key)
    third = _app(store_url, K2)
    assert find_borrower(third, nid) is not None
    with third.engine.connect() as conn:
        for row in conn.execute(select(t.borrower.c.name_enc, t.borrower.c.national_id_enc)):
            assert third.cipher.decrypt("borrower.name", row.name_enc)
        for row in conn.execute(select(t.contact_attempt.c.content)):
            assert row.content is None or third.cipher.open_text(CONTENT, row.content)
    assert not verify(third, code).genuine
    third.engine.dispose()


def test_values_sealed_the_old_deterministic_way_still_open() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    from arrears.store.crypto import _derive

    key = os.urandom(32)
    siv = AESSIV(_derive(key, b"arrears/pii/aes-siv", 64))
    legacy = siv.encrypt("张三".encode(), [b"borrower.name"])
    c = Cipher(key)
    assert c.decrypt("borrower.name", legacy) == "张三"
    assert not c.is_current(legacy)
    sealed = c.encrypt("borrower.name", "张三")
    assert c.is_current(sealed) and sealed != c.encrypt("borrower.name", "张三")
    with pytest.raises(ValueError, match="cannot decrypt"):
        c.decrypt("borrower.national_id", sealed)  # bound to its column
