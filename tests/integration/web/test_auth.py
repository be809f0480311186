from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_token, login
from wangnet import accounts
from web.app import create_app


def test_login_page_is_chinese_first_and_english_on_request(app):
    client = app.test_client()
    assert "登录" in client.get("/login").get_data(as_text=True)
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in page and "登录" not in page
    assert "Log in" in client.get("/login").get_data(as_text=True)  # remembered in the session


def test_login_without_csrf_token_is_refused(app, make_user):
    resp = app.test_client().post("/login", data={"username": make_user("noc"), "password": TEST_PASSWORD})
    assert resp.status_code == 400


def test_wrong_password_is_refused_and_audited(app, store, make_user):
    name = make_user("noc")
    resp = login(app.test_client(), name, "not the password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    with store.session() as s:
        entry = s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.action == "login.failed"))
        assert entry.actor == name and entry.remote_addr


def test_login_is_audited_and_lands_on_map(app, store, make_user):
    name = make_user("noc")
    resp = login(app.test_client(), name)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")  # "/" sends each role on
    with store.session() as s:
        assert s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.action == "login")).actor == name


def test_next_parameter_cannot_redirect_off_site(app, make_user):
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login?next=//evil.example/x",
        data={"username": make_user("noc"), "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] in ("/", "http://localhost/")


def test_login_attempts_are_rate_limited(settings, store, make_user):
    app = create_app(settings.with_overrides(login_rate_limit="3 per minute"), store=store)
    client = app.test_client()
    name = make_user("noc")
    codes = [login(client, name, "wrong password").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_security_headers(app):
    resp = app.test_client().get("/login")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_audit_page_lists_logins_for_admin(app, make_user):
    client = app.test_client()
    login(client, make_user("admin", username="boss"))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "boss" in page and "login" in page
