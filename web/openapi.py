"""The API's OpenAPI description, generated from the routes themselves so it cannot drift.

Every ``/api/v1`` rule becomes a path with its methods, path parameters, the
roles that may call it (from ``@roles``) and the view's docstring as summary.
"""
from __future__ import annotations

import re
from typing import Any, Callable, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.routing import IntegerConverter

from wangnet import __version__
from web.security import ANY_ROLE, required_roles, roles

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("openapi", __name__)
DOC_ATTR = "_wangnet_api_doc"
# The id columns' range on every engine: PostgreSQL's `integer` is 32-bit (SQLite's is 64), so larger ids
# cannot exist and the route answers 404 (an id past 2**31-1 reached PostgreSQL as "integer out of range", a 500).
INT_MAX = 2**31 - 1
CONVERTER_TYPES = {"integer": {"type": "integer", "minimum": 0, "maximum": INT_MAX}, "float": {"type": "number"}}
CONVERTER_TYPES["boundedint"] = CONVERTER_TYPES["integer"]
ERRORS = {
    "400": "bad request: the message says what is wrong",
    "401": "login required",
    "403": "the user lacks the role",
    "404": "no such object",
}


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` limited to the database's integer range, so a huge id is a 404, not an overflow error."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = INT_MAX,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def api_doc(
    *,
    query: dict[str, dict[str, Any]] | None = None,
    required: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    content_type: str = "application/json",
    responses: dict[str, str] | None = None,
) -> Callable[[F], F]:
    """What the route cannot say about itself: query parameters (JSON schemas), the body, extra status codes."""

    def mark(view: F) -> F:
        setattr(view, DOC_ATTR, {"query": query or {}, "required": required, "body": body, "content_type": content_type,
                                 "responses": responses or {}})
        return view

    return mark


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
        doc = getattr(view, DOC_ATTR, {"query": {}, "required": (), "body": None, "responses": {}})
        params += [{"name": name, "in": "query", "required": name in doc["required"], "schema": schema}
                   for name, schema in doc["query"].items()]
        allowed = sorted(required_roles(view) or [])
        summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": summary,
                "description": f"Roles: {', '.join(allowed)}.",
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {}}}}
                | {code: {"description": text} for code, text in (ERRORS | doc["responses"]).items()},
            }
            if doc["body"] is not None:
                op["requestBody"] = {"required": True, "content": {doc["content_type"]: {"schema": doc["body"]}}}
            elif method == "POST":
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
