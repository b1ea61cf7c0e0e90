"""Find a DPO, end to end without a browser: the form's bad input, referrals with consent in one
transaction, the partner's e-mail through a real SMTP server, the partner's side (TOTP sign-in, own
leads only, every access logged), expiry and hand-over, retention, the console, the chat and the CLI.
The same tests run on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from assistant.accounts import credentials
from assistant.matching.models import ConsentRecord, Lead, LeadAccess, Partner, Referral
from assistant.matching.service import (
    CONSENT_VERSION,
    ReferralInvalid,
    consent_text,
    parse_request,
    text_hash,
)
from assistant.web import SERVICES_KEY

PASSWORD = "correct horse battery staple"
VISITOR = "jeanne.martin@boulangerie-martin.fr"
GOOD = {"company": "Boulangerie Martin", "siren": "732 829 320", "sector": "health", "size": "10-49", "region": "IDF",
        "need": "Registre et AIPD pour notre cabinet médical", "data_kinds": ["health"], "budget": "medium",
        "contact_name": "Jeanne Martin", "contact_email": VISITOR, "contact_phone": "+33 6 12 34 56 78"}
PERSONAL = ("Boulangerie", "Jeanne", "Martin", "boulangerie-martin", "732829320", "12 34 56", "cabinet médical")


# -- the form (pure validation) -------------------------------------------------------------------------

@pytest.mark.parametrize("changes,field,code", [
    ({"contact_email": "jeanne@"}, "contact_email", "invalid"),
    ({"contact_email": "jeanne martin@x.fr"}, "contact_email", "invalid"),
    ({"siren": "732829321"}, "siren", "invalid"),  # bad checksum
    ({"siren": "12345"}, "siren", "invalid"),
    ({"sector": "astrology"}, "sector", "unknown"),
    ({"data_kinds": ["health", "dreams"]}, "data_kinds", "unknown"),
    ({"region": "XX"}, "region", "unknown"),
    ({"company": "  "}, "company", "required"),
    ({"need": "x" * 2001}, "need", "too_long"),
    ({"contact_phone": "call me"}, "contact_phone", "invalid"),
])
def test_bad_fields_are_named(changes, field, code):
    with pytest.raises(ReferralInvalid) as e:
        parse_request({**GOOD, **changes})
    assert e.value.codes == {field: code} and field in e.value.message


def test_good_form_is_normalised():
    req = parse_request({**GOOD, "contact_email": " Jeanne.Martin@Boulangerie-Martin.FR "}, "fr")
    assert req.siren == "732829320" and req.contact_email == VISITOR and req.data_kinds == ("health",)
    assert req.as_need().specialisms == {"health"}
    assert parse_request({k: v for k, v in GOOD.items() if k not in ("siren", "contact_phone", "budget")}).siren is None


def test_consent_text_names_each_firm():
    fr = consent_text("fr", ["A (fictif)", "B (fictif)", "C (fictif)"])
    assert "« A (fictif) », « B (fictif) » et « C (fictif) »" in fr
    en = consent_text("en", ["A"])
    assert "“A”" in en and en != fr


# -- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, make_app, smtp_sink):
    changes = {"min_similarity": 0.0, "smtp_url": smtp_sink.url, "jobs_backend": "inline",
               "public_origin": "http://localhost"}
    if request.param == "postgresql":
        changes["database_url"] = request.getfixturevalue("pg_url")
    app = make_app(**changes)
    from assistant.matching.demo import load_demo

    load_demo(app.extensions[SERVICES_KEY].matching)
    app.sink = smtp_sink
    return app


def services(app):
    return app.extensions[SERVICES_KEY]


def count(app, model, *where):
    with services(app).database.reading() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def partner_id(app, name):
    with services(app).database.reading() as s:
        return s.scalar(select(Partner.id).where(Partner.name == name))


def send(app, chosen, key="k1", consent=True, **changes):
    req = parse_request({**GOOD, **changes})
    return services(app).matching.create_referral(req, chosen, consent, CONSENT_VERSION, key)


def nothing_stored(app):
    return all(count(app, m) == 0 for m in (Referral, Lead, ConsentRecord)) and not app.sink.messages


FIRST, SECOND = "Exemple Conseil (fictif)", "Centre Val RGPD (fictif)"


# -- referrals ------------------------------------------------------------------------------------------

def test_referral_consent_and_email_without_personal_data(app):
    ids = [partner_id(app, FIRST), partner_id(app, SECOND)]
    sent = send(app, ids)
    assert sent.first_partner == FIRST
    assert count(app, Referral) == 1 and count(app, Lead) == 1
    with services(app).database.reading() as s:
        proof = s.scalars(select(ConsentRecord)).one()
        lead = s.scalars(select(Lead)).one()
    assert proof.partner_ids == ids and proof.partner_names == [FIRST, SECOND]
    assert proof.text_version == CONSENT_VERSION and proof.text_hash == text_hash(consent_text("fr", [FIRST, SECOND]))
    assert proof.contact_email_hash == services(app).hasher.email_digest(VISITOR)
    assert lead.partner_id == ids[0] and lead.state == "offered" and lead.reasons
    (msg,) = app.sink.messages
    assert msg["To"] == "dpo@exemple-conseil.example.org"
    body = msg.get_body(("plain",)).get_content()
    whole = msg.as_string()
    assert "/partner/leads/" in body
    for value in (*PERSONAL, VISITOR):
        assert value not in whole, value  # no personal data in the e-mail


@pytest.mark.parametrize("case", ["no_consent", "unknown_partner", "too_many", "none", "outdated"])
def test_refused_referrals_store_and_send_nothing(app, case):
    from assistant.errors import InputError

    ids = [partner_id(app, FIRST)]
    matching = services(app).matching
    req = parse_request(GOOD)
    calls = {"no_consent": lambda: matching.create_referral(req, ids, False, CONSENT_VERSION, "k"),
             "unknown_partner": lambda: matching.create_referral(req, [*ids, "forged"], True, CONSENT_VERSION, "k"),
             "too_many": lambda: matching.create_referral(req, ["a", "b", "c", "d"], True, CONSENT_VERSION, "k"),
             "none": lambda: matching.create_referral(req, [], True, CONSENT_VERSION, "k"),
             "outdated": lambda: matching.create_referral(req, ids, True, "1999-01-01", "k")}
    with pytest.raises(InputError) as e:
        calls[case]()
    assert e.value.code in ("consent_required", "unknown_partner", "bad_choice", "consent_outdated")
    assert nothing_stored(app)


def test_a_partner_at_capacity_is_refused_and_nothing_is_written(app):
    from assistant.errors import InputError

    pid = partner_id(app, FIRST)
    with services(app).database.transaction() as s:
        s.get(Partner, pid).capacity = 0
    with pytest.raises(InputError) as e:
        send(app, [partner_id(app, SECOND), pid])
    assert e.value.code == "partner_at_capacity" and FIRST in e.value.message
    assert nothing_stored(app)


def test_a_double_submission_sends_once(app):
    from assistant.errors import InputError

    ids = [partner_id(app, FIRST)]
    send(app, ids, key="same")
    with pytest.raises(InputError) as e:
        send(app, ids, key="same")
    assert e.value.code == "duplicate_submission"
    assert count(app, Referral) == 1 and len(app.sink.messages) == 1


def test_the_database_holds_no_plaintext_contact_email(app, settings):
    if services(app).database.url.startswith("postgresql"):
        with services(app).database.engine.connect() as c:
            dump = " ".join(str(r) for t in ("partners", "referrals", "consent_records", "leads", "mail_outbox")
                            for r in c.exec_driver_sql(f"SELECT * FROM {t}").all())
    else:
        send(app, [partner_id(app, FIRST)])
        services(app).database.dispose()  # the WAL is folded into the file on close
        files = sorted(settings.data_dir.glob("*.db*")) or sorted(settings.data_dir.rglob("*.sqlite*"))
        assert files
        dump = b"".join(f.read_bytes() for f in files).decode("latin-1")
    if services(app).database.url.startswith("postgresql"):
        send(app, [partner_id(app, FIRST)])
        with services(app).database.engine.connect() as c:
            dump += " ".join(str(r) for t in ("partners", "referrals", "consent_records", "leads", "mail_outbox")
                             for r in c.exec_driver_sql(f"SELECT * FROM {t}").all())
    for value in (VISITOR, "dpo@exemple-conseil.example.org", "contact@centre-val-rgpd.example.org", "Jeanne Martin",
                  "Boulangerie Martin"):
        assert value not in dump, value
        assert value.lower() not in dump.lower(), value


# -- the partner's side ---------------------------------------------------------------------------------

def csrf(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def web_sign_in(client, user):
    page = client.get("/login?lang=en")
    client.post("/login", data={"csrf_token": csrf(page.get_data(True)), "email": user.email, "password": PASSWORD})
    page = client.get("/login/code")
    resp = client.post("/login/code", data={"csrf_token": csrf(page.get_data(True)),
                                            "code": credentials.totp_code(user.totp_secret)})
    assert resp.status_code == 302, resp.get_data(True)


def link_of(message) -> str:
    return urlsplit(re.search(r"http://localhost(/partner/leads/\S+)", message.get_body(("plain",)).get_content())
                    .group(0)).path


def test_partner_signs_in_sees_only_its_lead_and_every_access_is_logged(app):
    ids = [partner_id(app, FIRST), partner_id(app, SECOND)]
    send(app, ids)
    link = link_of(app.sink.messages[0])
    accounts = services(app).accounts
    owner = accounts.create_user("dpo@exemple-conseil.example.org", "partner", PASSWORD)
    other = accounts.create_user("contact@centre-val-rgpd.example.org", "partner", PASSWORD)

    anonymous = app.test_client().get(link)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    intruder = app.test_client()
    web_sign_in(intruder, other)
    resp = intruder.get(link + "?lang=en")
    assert resp.status_code == 403 and "not one of yours" in resp.get_data(True)
    assert VISITOR not in resp.get_data(True)
    assert intruder.get("/partner/").get_data(True).count("/partner/leads/") == 0

    client = app.test_client()
    web_sign_in(client, owner)
    page = client.get(link + "?lang=en").get_data(True)
    assert "Registre et AIPD" in page and VISITOR not in page and "Jeanne" not in page  # only what is needed
    resp = client.post(link, data={"csrf_token": csrf(page), "action": "accept"})
    assert resp.status_code == 302
    page = client.get(link).get_data(True)
    assert VISITOR in page and "Jeanne Martin" in page and "732829320" in page  # contact once accepted
    client.post(link, data={"csrf_token": csrf(page), "action": "won"})
    with services(app).database.reading() as s:
        assert s.scalars(select(Lead)).one().state == "won"
        log = s.execute(select(LeadAccess.action, LeadAccess.allowed, LeadAccess.user_id).order_by(LeadAccess.id)).all()
    assert log == [("view", False, other.id), ("view", True, owner.id), ("accept", True, owner.id),
                   ("view", True, owner.id), ("won", True, owner.id)]


def test_forged_and_expired_links(app, monkeypatch):
    from assistant.matching import service as svc

    send(app, [partner_id(app, FIRST)])
    link = link_of(app.sink.messages[0])
    owner = services(app).accounts.create_user("dpo@exemple-conseil.example.org", "partner", PASSWORD)
    client = app.test_client()
    web_sign_in(client, owner)
    forged = client.get(link[:-3] + "abc?lang=en")
    assert forged.status_code == 404 and "not valid" in forged.get_data(True)
    monkeypatch.setattr(svc, "LINK_MAX_AGE", -1)
    expired = client.get(link + "?lang=en")
    assert expired.status_code == 410 and "expired" in expired.get_data(True)
    with services(app).database.reading() as s:
        assert s.scalars(select(Lead)).one().state == "offered"  # neither opened the lead


def test_unanswered_leads_expire_and_go_to_the_next_chosen_firm(app):
    ids = [partner_id(app, FIRST), partner_id(app, SECOND)]
    send(app, ids)
    matching = services(app).matching
    now = matching.clock()
    assert matching.expire_leads(now + timedelta(hours=47)) == 0
    assert matching.expire_leads(now + timedelta(hours=49)) == 1
    with services(app).database.reading() as s:
        states = s.execute(select(Lead.partner_id, Lead.state).order_by(Lead.offered_at, Lead.rank)).all()
    assert states == [(ids[0], "expired"), (ids[1], "offered")]
    assert [m["To"] for m in app.sink.messages] == ["dpo@exemple-conseil.example.org",
                                                     "contact@centre-val-rgpd.example.org"]
    assert matching.expire_leads(now + timedelta(hours=100)) == 1
    with services(app).database.reading() as s:
        assert s.scalars(select(Referral.status)).one() == "unplaced"  # never offered to a firm not consented to
    assert count(app, Lead) == 2


def test_the_periodic_job_expires_leads(app):
    from assistant.jobs import PERIODIC, load_jobs

    load_jobs()
    send(app, [partner_id(app, FIRST)])
    matching = services(app).matching
    with services(app).database.transaction() as s:
        s.scalars(select(Lead)).one().expires_at = matching.clock() - timedelta(minutes=1)
    assert PERIODIC["matching.expire_leads"].run(services(app)) == 1


# -- retention ------------------------------------------------------------------------------------------

def test_retention_removes_old_referrals_keeps_consent_proofs(app):
    from assistant.matching.retention import retention_rules

    send(app, [partner_id(app, FIRST)])
    services(app).matching.log_access(None, "export")
    db = services(app).database
    with db.transaction() as s:
        s.scalars(select(Referral)).one().last_event_at -= timedelta(days=3 * 365 + 1)
        for row in s.scalars(select(LeadAccess)):
            row.at -= timedelta(days=366)
    from assistant.db import utcnow

    for rule in retention_rules():
        with db.transaction() as s:
            s.execute(rule.delete(utcnow()))
    assert count(app, Referral) == 0 and count(app, Lead) == 0 and count(app, LeadAccess) == 0
    with db.reading() as s:
        proof = s.scalars(select(ConsentRecord)).one()
    assert proof.referral_id is None and proof.text_hash  # the proof outlives the referral
    names = {r.name for r in services(app).retention.rules}
    assert {"matching.referrals", "matching.consent_records", "matching.lead_access_log"} <= names


# -- the /dpo pages -------------------------------------------------------------------------------------

def form_data(html, **fields):
    return {"csrf_token": csrf(html), **fields}


def test_the_dpo_flow_in_pages(app):
    client = app.test_client()
    page = client.get("/dpo?lang=en&from=chat&topic=health").get_data(True)
    assert 'value="health" checked' in page and "Find a DPO" in page
    bad = client.post("/dpo", data=form_data(page, **{**GOOD, "siren": "732829321", "contact_email": "nope"}))
    assert bad.status_code == 422
    text = bad.get_data(True)
    assert "This SIREN is not valid" in text and "like name@company.fr" in text and 'aria-invalid="true"' in text
    resp = client.post("/dpo", data=form_data(page, **GOOD))
    assert resp.status_code == 200
    choose = resp.get_data(True)
    assert FIRST in choose and "Why this DPO" in choose and "Specialised in what you need: health data" in choose
    draft = re.search(r'name="draft" value="([^"]+)"', choose).group(1)
    assert VISITOR not in choose and "Jeanne" not in choose  # the draft carries them encrypted
    none = client.post("/dpo/choose", data=form_data(choose, draft=draft))
    assert none.status_code == 422 and "at least one" in none.get_data(True)
    ids = [partner_id(app, FIRST)]
    consent = client.post("/dpo/choose", data=form_data(choose, draft=draft, partner=ids)).get_data(True)
    assert "“Exemple Conseil (fictif)”" in consent
    assert re.search(r'<input type="checkbox" name="consent" value="yes"\s*>', consent)  # unticked by default
    fields = dict(draft=draft, partner=ids, consent_version=CONSENT_VERSION)
    refused = client.post("/dpo/send", data=form_data(consent, **fields))
    assert refused.status_code == 422 and "nothing is sent without your consent" in refused.get_data(True)
    assert nothing_stored(app)
    tampered = client.post("/dpo/send", data=form_data(consent, **{**fields, "draft": draft[:-2] + "xx"}, consent="yes"))
    assert tampered.status_code == 400 and "altered" in tampered.get_data(True)
    ok = client.post("/dpo/send", data=form_data(consent, **fields, consent="yes"))
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/dpo/sent")
    assert FIRST in client.get("/dpo/sent").get_data(True)
    again = client.post("/dpo/send", data=form_data(consent, **fields, consent="yes"))
    assert again.status_code == 409 and "already sent" in again.get_data(True)
    assert count(app, Referral) == 1 and len(app.sink.messages) == 1


# -- the console ----------------------------------------------------------------------------------------

def test_console_partners_crud_funnel_and_csv(app):
    send(app, [partner_id(app, FIRST)])
    operator = services(app).accounts.create_user("op@example.fr", "operator", PASSWORD)
    client = app.test_client()
    web_sign_in(client, operator)
    listing = client.get("/admin/partners?lang=en").get_data(True)
    assert FIRST in listing and "1 / 20" in listing
    form = client.get("/admin/partners/new").get_data(True)
    bad = client.post("/admin/partners/new", data=form_data(form, name="New (fictif)", kind="wizard",
                                                             email="x@", sectors=["health"]))
    assert bad.status_code == 422 and "wizard" in bad.get_data(True)
    assert count(app, Partner) == 7
    good = client.post("/admin/partners/new", data=form_data(
        form, name="Nouveau (fictif)", kind="consultant", email="new@example.org", sectors=["retail"],
        specialisms=["marketing"], languages=["fr"], sizes=["1-9"], pricing_model="fixed", budget_band="low",
        capacity="5", active="yes"))
    assert good.status_code == 302 and count(app, Partner) == 8
    dup = client.post("/admin/partners/new", data=form_data(
        form, name="Copie (fictif)", kind="consultant", email="NEW@example.org", sectors=["retail"],
        specialisms=["marketing"], languages=["fr"], sizes=["1-9"], pricing_model="fixed", budget_band="low"))
    assert dup.status_code == 422 and count(app, Partner) == 8
    pid = partner_id(app, "Nouveau (fictif)")
    client.post(f"/admin/partners/{pid}/active", data=form_data(listing, active="no"))
    with services(app).database.reading() as s:
        assert s.get(Partner, pid).active is False
    kept = client.post(f"/admin/partners/{partner_id(app, FIRST)}/delete", data=form_data(listing))
    assert kept.status_code == 409 and "Pause it instead" in kept.get_data(True) and count(app, Partner) == 8
    gone = client.post(f"/admin/partners/{pid}/delete", data=form_data(listing))
    assert gone.status_code == 302 and count(app, Partner) == 7
    page = client.get("/admin/referrals?lang=en").get_data(True)
    assert '<svg class="chart funnel"' in page and "Offered: 1" in page
    csv_resp = client.get("/admin/referrals.csv")
    assert csv_resp.mimetype == "text/csv"
    rows = csv_resp.get_data(True).splitlines()
    assert rows[0].startswith("referral,created_at") and len(rows) == 2 and FIRST in rows[1]
    assert VISITOR not in csv_resp.get_data(True) and "Jeanne" not in csv_resp.get_data(True)
    assert count(app, LeadAccess, LeadAccess.action == "export") == 1


# -- the chat and the CLI -------------------------------------------------------------------------------

def test_chat_answer_with_a_referral_lists_partners_with_reasons(app):
    client = app.test_client()
    body = client.post("/api/chat", json={"message": "Je cherche un DPO externe pour ma clinique, données de santé"},
                       headers={"Accept-Language": "fr"}).get_json()
    partners = body["referral"]["partners"]
    assert partners and {"id", "name", "score", "why"} <= set(partners[0])
    assert partners[0]["why"] and 0 <= partners[0]["score"] <= 1
    assert all(p["name"].endswith(("(fictif)", "(fictitious)")) for p in partners)
    assert body["referral"]["dpo_url"] == "/dpo?from=chat&topic=intent&kinds=health"  # categories, never the text
    stream = client.post("/api/chat/stream", json={"message": "I need an external DPO for our clinic"}).get_data(True)
    done = json.loads(re.search(r"event: done\ndata: (.*)\n", stream).group(1))
    assert done["referral"]["partners"]
    plain = client.post("/api/chat", json={"message": "Quel est le délai de notification d'une violation ?"}).get_json()
    assert plain["referral"] is None or "partners" in plain["referral"]
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["schemas"]["Partner"]["required"] == ["id", "name", "score", "why"]


def test_cli_load_demo_and_ask_json_with_partners(runner, settings):
    from assistant.cli import cli

    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
           "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_MIN_SIMILARITY": "0"}
    assert runner.invoke(cli, ["index", "--no-progress"], env=env).exit_code == 0
    r = runner.invoke(cli, ["ask", "--json", "Je cherche un DPO externe pour ma clinique"], env=env)
    assert r.exit_code == 0 and "db upgrade" in r.stderr  # no database yet: the answer, and a note saying why
    assert json.loads(r.stdout)["referral"]["partners"] == []
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(cli, ["partners", "load-demo"], env=env)
    assert r.exit_code == 0 and "7 added, 0 already there" in r.stdout
    r = runner.invoke(cli, ["partners", "load-demo"], env=env)
    assert "0 added, 7 already there" in r.stdout  # idempotent
    assert "Exemple Conseil (fictif)" in runner.invoke(cli, ["partners", "list"], env=env).stdout
    r = runner.invoke(cli, ["ask", "--json", "Je cherche un DPO externe pour ma clinique : données de santé"], env=env)
    assert r.exit_code == 0, r.stderr
    partners = json.loads(r.stdout)["referral"]["partners"]
    assert partners and all(p["why"] and {"id", "name", "score", "why"} <= set(p) for p in partners)
    assert partners[0]["name"] in ("Exemple Conseil (fictif)", "Centre Val RGPD (fictif)")  # health specialists
    assert any("santé" in w for w in partners[0]["why"])
    text = runner.invoke(cli, ["ask", "Je cherche un DPO externe pour ma clinique"], env=env).stdout
    assert "(fictif) (0." in text and "/dpo" in text  # the plain-text answer lists them too


def test_keys_rotate_re_encrypts_partner_and_referral_contact_data(app):
    from cryptography.fernet import Fernet

    from assistant.config import Secret
    from assistant.privacy.crypto import FieldCipher, rotate_columns

    send(app, [partner_id(app, FIRST)])
    old = services(app).settings.field_keys
    new = Secret(Fernet.generate_key().decode())
    counts = rotate_columns(services(app).database, FieldCipher([new, *old]))
    assert counts["partners.contact_email"] == 7 and counts["referrals.contact_email"] == 1
    assert counts["referrals.contact_phone"] == 1 and counts["referrals.need"] == 1
    only_new = FieldCipher([new])
    with services(app).database.reading() as s:
        ref = s.scalars(select(Referral)).one()
        assert only_new.decrypt(ref.contact_email) == VISITOR and only_new.decrypt(ref.company) == GOOD["company"]
