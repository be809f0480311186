"""The API's OpenAPI description, generated from the routes themselves so it cannot drift.

Every ``/api/v1`` rule becomes a path with its methods, path parameters, the
roles that may call it (from ``@roles``) and the view's docstring as summary.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from wangnet import __version__
from web.security import ANY_ROLE, required_roles, roles

bp = Blueprint("openapi", __name__)
CONVERTER_TYPES = {"integer": {"type": "integer"}, "float": {"type": "number"}}
ERRORS = {
    "400": "bad request: the message says what is wrong",
    "401": "login required",
    "403": "the user lacks the role",
    "404": "no such object",
}


def describe(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        path = rule.rule
        params = []
        for name in sorted(rule.arguments):
            converter = rule._converters[name]  # noqa: SLF001 - werkzeug exposes no public accessor
            kind = type(converter).__name__.replace("Converter", "").lower()
            path = re.sub(r"<(?:[a-z]+:)?" + name + ">", "{" + name + "}", path)
            params.append({"name": name, "in": "path", "required": True, "schema": CONVERTER_TYPES.get(kind, {"type": "string"})})
        allowed = sorted(required_roles(view) or [])
        summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": summary,
                "description": f"Roles: {', '.join(allowed)}.",
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {}}}}
                | {code: {"description": text} for code, text in ERRORS.items()},
            }
            if method == "POST":
                op["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "wangnet API", "version": __version__,
                 "description": "Every call needs a logged-in session (cookie) with one of the listed roles; "
                                "POST calls also need the CSRF token in the X-CSRFToken header."},
        "paths": paths,
    }


@bp.route("/api/v1/openapi.json")
@roles(*ANY_ROLE)
def openapi():  # type: ignore[no-untyped-def]
    """This description."""
    return jsonify(describe(current_app))
