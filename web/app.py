"""Flask application factory: the web side of the composition root."""
from __future__ import annotations

import importlib
from datetime import timedelta

from flask import Flask, jsonify, render_template, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from topology import Inventory, load_inventory
from wangnet.config import Settings, ensure_secret_key
from wangnet.runtime import Runtime
from wangnet.store import Store
from web import security
from web.openapi import BoundedIntConverter
from web.security import NavItem
from web.i18n import LOCALES, compile_catalogs, select_locale, translation_directories


# Each area's blueprint module: it defines ``bp`` and may define ``NAV`` (menu entries).
AREA_MODULES: tuple[str, ...] = ("web.auth", "web.network", "web.live", "web.alerts", "web.devices", "web.tools", "web.showcmd", "web.openapi", "web.admin", "web.phones", "web.vod", "web.conference_media", "web.conference")


def create_app(
    settings: Settings,
    store: Store | None = None,
    runtime: Runtime | None = None,
    inventory: Inventory | None = None,
) -> Flask:
    """Build the app around one store and one inventory (loaded once, validated)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedIntConverter  # huge ids: 404, not a database overflow
    app.config.update(
        SECRET_KEY=ensure_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=";".join(translation_directories()),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # site names stay readable Chinese in the API
    app.extensions["wangnet.settings"] = settings
    app.extensions["wangnet.store"] = store or Store.from_settings(settings)
    app.extensions["wangnet.runtime"] = runtime
    app.extensions["wangnet.inventory"] = inventory or load_inventory(settings.inventory_path)

    compile_catalogs()
    Babel(app, locale_selector=select_locale)
    security.install(app)  # the role gate runs first: anonymous requests get 401/redirect, not a CSRF error
    CSRFProtect(app)

    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    from web import auth

    login_manager.user_loader(auth.load_user)
    nav: list[NavItem] = []
    for module_name in AREA_MODULES:
        module = importlib.import_module(module_name)
        app.register_blueprint(module.bp)
        nav.extend(getattr(module, "NAV", ()))
    app.extensions["wangnet.nav"] = nav

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=True)
    # The limiter is per app so that each test app (and each process) counts alone.
    app.view_functions["auth.login"] = limiter.limit(
        settings.login_rate_limit, methods=["POST"], error_message="too many login attempts"
    )(app.view_functions["auth.login"])

    @app.context_processor
    def inject_globals() -> dict[str, object]:
        from flask_login import current_user

        mine = [item for item in nav if current_user.is_authenticated and current_user.roles.intersection(item.roles)]
        return {"locales": LOCALES, "current_locale": select_locale(), "nav_items": mine}

    _install_error_pages(app)
    if settings.trusted_proxies:  # behind nginx: the viewer's address, scheme and host come from X-Forwarded-*
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app


def _install_error_pages(app: Flask) -> None:
    def page(status: int, message: str):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            return jsonify(error=message, status=status), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        return page(400, f"CSRF check failed: {exc.description}")

    for status in (400, 403, 404, 405, 429, 500):

        def handler(exc, _status=status):  # type: ignore[no-untyped-def]
            return page(_status, getattr(exc, "description", "") or str(exc))

        app.register_error_handler(status, handler)
