"""The phone registry against a real (SQLite) store: credentials, validation, CSV, dashboard counts."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from telephony import phone_csv, registry, trial
from telephony.digest import ha1
from telephony.models import Binding, Phone
from telephony.registry import Context, PhoneFields, RegistryError
from topology import load_inventory
from tests.conftest import SAMPLE_INVENTORY
from wangnet.accounts import AuditEntry

REALM = "test.realm"


@pytest.fixture(scope="module")
def inventory():
    return load_inventory(SAMPLE_INVENTORY)


@pytest.fixture
def ctx(inventory):
    return Context.from_inventory(inventory, REALM, actor="tester", remote_addr="127.0.0.1")


def add(store, ctx, **kw):
    with store.session() as s:
        phone, password = registry.create_phone(s, ctx, PhoneFields(**kw))
        return phone.extension, password


def bind(store, extension, seconds=3600, contact=None):
    with store.session() as s:
        phone = registry.get_phone(s, extension)
        now = trial.utcnow()
        s.add(Binding(phone_id=phone.id, contact=contact or f"sip:{extension}@127.0.0.1:5070",
                      expires_at=now + timedelta(seconds=seconds), call_id="c1", cseq=1,
                      user_agent="baresip", source="udp:127.0.0.1:5070"))


def test_create_stores_only_ha1s_and_returns_password_once(store, ctx):
    ext, password = add(store, ctx, site_id="shulinzhao", display_name="张伟", mac="00-1A-2B-3C-4D-5E")
    assert ext == "301001"
    assert len(password) == registry.PASSWORD_LENGTH and set(password) <= set(registry.PASSWORD_ALPHABET)
    with store.session() as s:
        phone = registry.get_phone(s, ext)
        assert phone.mac == "00:1a:2b:3c:4d:5e" and phone.realm == REALM
        assert phone.ha1_md5 == ha1(ext, REALM, password, "MD5")
        assert phone.ha1_sha256 == ha1(ext, REALM, password, "SHA-256")
        row = s.execute(select(Phone.__table__)).one()
        assert password not in " ".join(str(v) for v in row)
        entries = list(s.scalars(select(AuditEntry)))
        assert [(e.actor, e.action, e.target) for e in entries] == [("tester", "phone.create", ext)]
        assert password not in entries[0].detail
    assert add(store, ctx, site_id="shulinzhao")[0] == "301002"
    assert add(store, ctx, site_id="shulinzhao")[1] != password


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(site_id="nowhere"), 'unknown site "nowhere"'),
        (dict(site_id=""), "site is required"),
        (dict(site_id="dalad", extension="301001"), "is not in site \"dalad\"'s block 300001–300999"),
        (dict(site_id="dalad", extension="3001"), "must be exactly 6 digits"),
        (dict(site_id="dalad", mac="00:11:22"), "is not 12 hexadecimal digits"),
        (dict(site_id="dalad", department="煤炭局"), 'department "煤炭局" is not one of site "dalad"'),
        (dict(site_id="dalad", owner="=HYPERLINK(1)"), "owner must not start with '='"),
        (dict(site_id="dalad", display_name="x" * 129), "display_name is longer than 128"),
        (dict(site_id="dalad", model="a\nb"), "model contains control characters"),
    ],
)
def test_bad_fields_are_refused_with_the_reason(store, ctx, fields, message):
    with pytest.raises(RegistryError) as err:
        add(store, ctx, **fields)
    assert message in str(err.value)
    with store.session() as s:
        assert s.scalar(select(Phone)) is None


def test_duplicates_are_refused(store, ctx):
    add(store, ctx, site_id="dalad", extension="300007", mac="aa:bb:cc:dd:ee:ff")
    with pytest.raises(RegistryError, match="extension 300007 is already taken"):
        add(store, ctx, site_id="dalad", extension="300007")
    with pytest.raises(RegistryError, match="MAC address aa:bb:cc:dd:ee:ff is already used"):
        add(store, ctx, site_id="dalad", mac="AABB.CCDD.EEFF")


def test_update_enable_reset_delete_are_audited(store, ctx):
    ext, old_password = add(store, ctx, site_id="dalad", owner="王")
    with store.session() as s:
        registry.update_phone(s, ctx, ext, {"owner": "李", "model": "Yealink T46U", "department": "财政局"})
        with pytest.raises(RegistryError, match="cannot change site_id"):
            registry.update_phone(s, ctx, ext, {"site_id": "city"})
        registry.set_enabled(s, ctx, ext, False)
        new_password = registry.reset_password(s, ctx, ext)
        phone = registry.get_phone(s, ext)
        assert (phone.owner, phone.model, phone.enabled) == ("李", "Yealink T46U", False)
        assert phone.ha1_md5 == ha1(ext, REALM, new_password) != ha1(ext, REALM, old_password)
    bind(store, ext)
    with store.session() as s:
        registry.delete_phone(s, ctx, ext)
        assert s.scalar(select(Binding)) is None  # bindings go with their phone
        with pytest.raises(registry.PhoneNotFound, match=f"no phone with extension {ext}"):
            registry.get_phone(s, ext)
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        details = " ".join(e.detail for e in s.scalars(select(AuditEntry)))
    assert actions == ["phone.create", "phone.update", "phone.disable", "phone.password_reset", "phone.delete"]
    assert new_password not in details and old_password not in details


GOOD_CSV = (
    "\ufeffsite,extension,display_name,department,mac,model,owner,enabled\r\n"
    "dalad,,达拉特旗办公室,旗政府办公室,00:00:00:00:00:01,Yealink T46U,张三,yes\r\n"
    "dalad,300010,,财政局,,,,\r\n"
    "\r\n"
    "shulinzhao,,树林召镇,,,,,no\r\n"
)


def test_import_good_csv_returns_passwords_once(store, ctx):
    with store.session() as s:
        result = phone_csv.import_csv(s, ctx, GOOD_CSV)
    out = list(csv.DictReader(io.StringIO(result.passwords_csv())))
    assert [(r["extension"], r["site"]) for r in out] == [("300001", "dalad"), ("300010", "dalad"), ("301001", "shulinzhao")]
    with store.session() as s:
        for r in out:
            assert registry.get_phone(s, r["extension"]).ha1_md5 == ha1(r["extension"], REALM, r["password"])
        assert registry.get_phone(s, "301001").enabled is False
        assert [e.action for e in s.scalars(select(AuditEntry))] == ["phone.import"]


def test_import_bad_csv_reports_every_line_and_imports_nothing(store, ctx):
    add(store, ctx, site_id="dalad", extension="300005")
    text = (
        "site,extension,mac,enabled\n"
        "dalad,,,\n"
        "nowhere,,,\n"
        "dalad,300005,,\n"
        "dalad,301002,,\n"
        "dalad,,zz,\n"
        "dalad,,00:00:00:00:00:02,\n"
        "dalad,,0000.0000.0002,\n"
        "dalad,,,maybe\n"
        "dalad,300100\n"
    )
    with store.session() as s:
        with pytest.raises(phone_csv.CsvImportError) as err:
            phone_csv.import_csv(s, ctx, text)
    assert err.value.errors == [
        'line 3: unknown site "nowhere"',
        "line 4: extension 300005 is already taken",
        "line 5: extension 301002 is not in site \"dalad\"'s block 300001–300999 (that block belongs to site \"shulinzhao\")",
        "line 6: MAC address 'zz' is not 12 hexadecimal digits (e.g. 00:1a:2b:3c:4d:5e)",
        "line 8: MAC address 00:00:00:00:00:02 is already used by another phone",
        "line 9: enabled must be yes or no, not 'maybe'",
        "line 10: 2 fields, the header has 4",
    ]
    with store.session() as s:
        assert list(s.scalars(select(Phone.extension))) == ["300005"]


@pytest.mark.parametrize(
    "text, first_error",
    [
        ("", "line 1: the file is empty"),
        ("site,password\ndalad,secret123\n", "line 1: column 'password' is refused"),
        ("extension,colour\n", "line 1: unknown column 'colour'"),
        ("extension\n300001\n", "line 1: the header has no 'site' column"),
        ("site\n", "line 2: the file has a header but no phones"),
    ],
)
def test_import_refuses_bad_files(store, ctx, text, first_error):
    with store.session() as s:
        with pytest.raises(phone_csv.CsvImportError) as err:
            phone_csv.import_csv(s, ctx, text)
    assert err.value.errors[0].startswith(first_error)


def test_export_has_no_secret_and_reimports(store, ctx, tmp_path, inventory):
    passwords = [add(store, ctx, site_id="city", owner="市政府", mac=f"00:00:00:00:00:0{i}")[1] for i in range(3)]
    bind(store, "100002")
    with store.session() as s:
        text = phone_csv.export_csv(s, ctx)
        hashes = [v for p in s.scalars(select(Phone)) for v in (p.ha1_md5, p.ha1_sha256)]
    for secret in passwords + hashes:
        assert secret not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["extension"], r["registered"]) for r in rows] == [("100001", "no"), ("100002", "yes"), ("100003", "no")]
    assert "password" not in rows[0] and "ha1_md5" not in rows[0]
    # an export loads as it is into an empty registry (status columns are ignored)
    from wangnet.config import load_settings
    from wangnet.store import Store

    other = Store.from_settings(load_settings(environ={}, var_dir=tmp_path / "other"))
    other.upgrade()
    with other.session() as s:
        result = phone_csv.import_csv(s, ctx, text)
    assert [p.extension for p, _ in result.created] == ["100001", "100002", "100003"]
    other.dispose()


def test_dashboard_counts_registered_per_site_and_banner(store, ctx):
    a, _ = add(store, ctx, site_id="shulinzhao")
    add(store, ctx, site_id="shulinzhao")
    c, _ = add(store, ctx, site_id="dalad")
    d, _ = add(store, ctx, site_id="city")
    e, _ = add(store, ctx, site_id="city")
    bind(store, a)
    bind(store, a, contact="sip:second@127.0.0.1")  # two contacts still count as one phone
    bind(store, c, seconds=-10)  # expired: not registered
    bind(store, d)
    with store.session() as s:
        registry.set_enabled(s, ctx, e, False)
        board = trial.dashboard(s, ctx.plan)
    sites = {x.site_id: x.counts for x in board.sites}
    assert (sites["shulinzhao"].registered, sites["shulinzhao"].unregistered) == (1, 1)
    assert (sites["dalad"].registered, sites["dalad"].unregistered) == (0, 1)
    assert (sites["city"].registered, sites["city"].disabled, sites["city"].share) == (1, 1, 1.0)
    assert sites["hantai"].phones == 0 and trial.share_class(sites["hantai"]) == "share-none"
    banners = {x.site_id: x.counts for x in board.banners}
    assert (banners["dalad"].phones, banners["dalad"].registered, banners["dalad"].unregistered) == (3, 1, 2)
    assert (board.totals.phones, board.totals.registered, board.totals.unregistered) == (5, 2, 2)
    assert sites["shulinzhao"].last_registered_at is not None
    assert trial.share_class(sites["shulinzhao"]) == "share-most"
    assert trial.share_class(sites["dalad"]) == "share-zero"
    with store.session() as s:
        assert [r.phone.extension for r in trial.list_phones(s, ctx.plan, registered=True).rows] == [d, a]
        assert [r.phone.extension for r in trial.list_phones(s, ctx.plan, registered=False).rows] == [c, "301002"]
        page = trial.list_phones(s, ctx.plan, banner="dalad", per_page=2, page=2)
        assert (page.total, page.pages, [r.phone.extension for r in page.rows]) == (3, 2, ["301002"])
        assert trial.list_phones(s, ctx.plan, site="city").total == 2


def test_garbage_csv_is_refused_cleanly_never_half_imported(store, ctx):
    """Seeded random input: only CsvImportError ever comes out, and nothing is ever stored from a refused file."""
    import random

    rng = random.Random(8)
    alphabet = 'site,extension,mac,"\r\n\x00;=+达拉特\ufeff 0123456789abcdef:'
    header_choices = ["site,extension,mac", "site", "mac,site", '"site","extension"', ""]
    for _ in range(300):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        text = rng.choice(header_choices) + "\n" + body
        with store.session() as s:
            try:
                result = phone_csv.import_csv(s, ctx, text)
            except phone_csv.CsvImportError as exc:
                assert exc.errors and all(e.startswith("line ") for e in exc.errors)
                s.rollback()
                continue
            for phone, _ in result.created:  # a random file that happens to be valid is fine
                ctx.plan.validate(phone.extension, phone.site_id)
            s.rollback()
    with store.session() as s:
        assert s.scalar(select(Phone)) is None


def test_export_defuses_spreadsheet_formulas_and_round_trips(store, ctx, tmp_path):
    ext, _ = add(store, ctx, site_id="dalad", display_name="-1 值班室")
    with store.session() as s:
        registry.get_phone(s, ext).last_user_agent = "=cmd|' /C calc'!A0"  # user agents come from the network
    with store.session() as s:
        text = phone_csv.export_csv(s, ctx)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["last_user_agent"] == "'=cmd|' /C calc'!A0"
    assert row["display_name"] == "'-1 值班室"
    from wangnet.config import load_settings
    from wangnet.store import Store

    other = Store.from_settings(load_settings(environ={}, var_dir=tmp_path / "other"))
    other.upgrade()
    with other.session() as s:
        phone, _ = phone_csv.import_csv(s, ctx, text).created[0]
        assert phone.display_name == "-1 值班室"
    other.dispose()


def test_a_concurrent_insert_of_the_same_extension_is_a_clean_refusal(store, ctx):
    """Two admins creating at once: the loser gets a RegistryError, not a database exception."""
    with store.session() as first:
        used = registry.used_extensions(first)  # both see 300001 as free
        with store.session() as second:
            registry.create_phone(second, ctx, PhoneFields(site_id="dalad"))
        checked = registry.check_fields(ctx, PhoneFields(site_id="dalad"), used, set())
        assert checked.extension == "300001"
        registry.add_checked(first, ctx, checked)
        with pytest.raises(RegistryError, match="took the same extension or MAC address meanwhile"):
            registry.flush_or_refuse(first)
        first.rollback()
