"""Roles on every route, checked in one place so that no route is public by accident.

A view declares who may use it with ``@roles(...)``; a ``before_request`` hook
refuses anonymous requests (redirect to login, or 401 for the API) and users
lacking every listed role (403). A view that declares nothing is refused to
everyone: forgetting the decorator fails closed, not open.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from flask import Flask, abort, current_app, jsonify, redirect, request, url_for
from flask_login import current_user

from wangnet.accounts import ROLES

F = TypeVar("F", bound=Callable[..., Any])

ROLES_ATTR = "_wangnet_roles"
PUBLIC_ATTR = "_wangnet_public"
ANY_ROLE: tuple[str, ...] = ROLES


@dataclass(frozen=True)
class NavItem:
    """A menu entry an area offers; shown only to users holding one of ``roles``."""

    endpoint: str
    label: object  # a lazy gettext string, translated when rendered
    roles: frozenset[str]


def roles(*allowed: str) -> Callable[[F], F]:
    """Allow the view to users holding any of ``allowed``."""
    unknown = [r for r in allowed if r not in ROLES]
    if unknown or not allowed:
        raise ValueError(f"roles(): unknown or missing roles {unknown or allowed!r}")

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, frozenset(allowed))
        return view

    return mark


def public(view: F) -> F:
    """Mark the few views that need no login (the login page)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def required_roles(view: Callable[..., Any]) -> frozenset[str] | None:
    """The roles a view accepts; None for public views."""
    if getattr(view, PUBLIC_ATTR, False):
        return None
    return getattr(view, ROLES_ATTR, frozenset())


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _refuse(status: int, message: str):  # type: ignore[no-untyped-def]
    if _wants_json():
        response = jsonify(error=message, status=status)
        response.status_code = status
        return response
    abort(status)


def enforce_roles() -> Any:
    """``before_request``: the one gate every request passes."""
    if request.endpoint is None:  # 404s and the like: let Flask answer
        return None
    if request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return None
    needed = required_roles(view)
    if needed is None:
        return None
    if not current_user.is_authenticated:
        if _wants_json():
            return _refuse(401, "login required")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not needed:
        current_app.logger.error("view %s declares no roles; refusing", request.endpoint)
        return _refuse(403, "this page declares no roles")
    if not current_user.roles.intersection(needed):
        return _refuse(403, f"needs one of the roles: {', '.join(sorted(needed))}")
    return None


def install(app: Flask) -> None:
    app.before_request(enforce_roles)

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

