"""Login, logout and the logged-in user as Flask-Login sees it.

One login form for local and directory (LDAP) accounts: ``wangnet/login.py``
decides, ``wangnet/ldap_directory.py`` binds; see deploy/README.md,
"Directory login", for the settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from wangnet import accounts
from wangnet.credentials import CredentialError, CredentialResolver
from wangnet.directory import DirectoryConfig, DirectoryConfigError, MisconfiguredDirectory
from wangnet.ldap_directory import LdapDirectory
from wangnet.login import log_in
from wangnet.store import Store
from web.security import ANY_ROLE, public, roles

bp = Blueprint("auth", __name__)


@bp.record_once
def _set_up_directory(state) -> None:  # type: ignore[no-untyped-def]
    """Build the directory login (if configured) once, when the app is made."""
    settings = state.app.extensions["wangnet.settings"]
    try:
        config = DirectoryConfig.from_settings(settings, accounts.ROLES)
        directory = LdapDirectory.from_config(config, CredentialResolver.from_settings(settings)) if config else None
    except (DirectoryConfigError, CredentialError) as exc:
        # Local accounts must keep working: log the problem, refuse directory logins with it.
        state.app.logger.error("directory login is off until its settings are fixed: %s", exc)
        directory = MisconfiguredDirectory(str(exc))
    state.app.extensions["wangnet.directory"] = directory


def _refusal_message(refusal: str) -> str:
    if refusal == "directory-down":
        return _("Directory login is unavailable (the directory cannot be reached). Local accounts can still log in.")
    if refusal == "no-role":
        return _(
            "Your directory account is in no group that gives a wangnet role. Ask an administrator to add you to one."
        )
    if refusal == "bad-name":
        return _("Your directory user name cannot be used in wangnet (letters, digits, '.', '_' or '-' only).")
    if refusal == "disabled":
        return _("This account is disabled in wangnet.")
    return _("Wrong user name or password.")


@dataclass(frozen=True)
class SessionUser:
    """What a request knows about its user; a detached copy, never a live ORM row."""

    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def of(cls, user: accounts.User) -> "SessionUser":
        return cls(user.id, user.username, user.display_name, user.roles)


def store() -> Store:
    return current_app.extensions["wangnet.store"]


def load_user(user_id: str) -> SessionUser | None:
    """Reload roles from the store on each request so a role change applies at once."""
    try:
        uid = int(user_id)
    except ValueError:
        return None
    with store().session() as s:
        user = s.get(accounts.User, uid)
        if user is None or not user.active:
            return None
        return SessionUser.of(user)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    """Only same-site relative targets, so the login page is no open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("network.index")  # sends each role to its own first page


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    status = 401
    if form.validate_on_submit():
        username = form.username.data.strip()
        with store().session() as s:
            result = log_in(
                s, username, form.password.data, current_app.extensions.get("wangnet.directory"),
                remote_addr=request.remote_addr or "",
            )
            user = result.user
            if user is not None:
                lang = session.get("lang")
                session.clear()  # a fresh session on login: no fixation
                if lang:
                    session["lang"] = lang
                login_user(SessionUser.of(user))
                return redirect(_safe_next(request.args.get("next")))
        error = _refusal_message(result.refusal)
        status = 503 if result.refusal == "directory-down" else 401
    elif request.method == "POST":
        error = _("Please enter your user name and password.")
    return render_template("auth/login.html", form=form, error=error), (status if error else 200)


@bp.route("/logout", methods=["POST"])
@roles(*ANY_ROLE)
def logout():  # type: ignore[no-untyped-def]
    with store().session() as s:
        accounts.audit(s, current_user.username, "logout", remote_addr=request.remote_addr or "")
    logout_user()
    flash(_("You have been logged out."))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
@roles(*ANY_ROLE)
def set_language(code: str):  # type: ignore[no-untyped-def]
    from web.i18n import LOCALES

    if code in LOCALES:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))
