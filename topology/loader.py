"""Read ``inventory.yaml`` into an ``Inventory``, reporting every problem with its line.

An engineer editing a 1,500-line file wants all mistakes at once, each as
``FILE:LINE: message`` (the form editors and CI annotate), not one pydantic
traceback at a time. So the document is parsed with ruamel.yaml's round-trip
loader (safe: it builds only plain data, and keeps a line for every node),
each record is validated on its own, and the cross-record checks run on the
records that survived.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from topology.checks import Located, cross_check
from topology.schema import Credential, Device, Inventory, Link, Service, Site

_TOP_KEYS = ("version", "credentials", "sites", "devices", "links", "services")
_REQUIRED_TOP = ("version", "sites", "devices", "links")
_SECRET_WORDS = ("password", "secret", "community", "key", "passphrase", "token")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inventory, located so an editor can jump to it."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class InventoryError(Exception):
    """The inventory is unusable; ``problems`` lists every reason, in line order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate the inventory file; raise ``InventoryError`` listing all problems."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InventoryError(
            [Problem(str(path), line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})")]
        ) from None
    return load_inventory_text(text, str(path))


def load_inventory_text(text: str, filename: str = "inventory.yaml") -> Inventory:
    """Validate inventory YAML held in memory; ``filename`` only labels the problems."""
    collector = _Collector(filename)
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise InventoryError([Problem(filename, _mark_line(exc), _yaml_message(exc))]) from None
    except YAMLError as exc:  # pragma: no cover - ruamel marks nearly everything
        raise InventoryError([Problem(filename, 1, f"YAML error: {exc}")]) from None

    inventory = _Builder(collector).build(doc)
    if collector.problems or inventory is None:
        raise InventoryError(sorted(collector.problems, key=lambda p: p.line))
    return inventory


def _mark_line(exc: MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else 1


def _yaml_message(exc: MarkedYAMLError) -> str:
    if isinstance(exc, DuplicateKeyError):
        where = f" (in the mapping at line {exc.context_mark.line + 1})" if exc.context_mark else ""
        return f"{exc.problem}{where}"
    message = f"YAML syntax error: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return message


class _Collector:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.filename, line, message))


def _start_line(node: Any, default: int = 1) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else default


def _child_line(node: Any, step: Any, default: int) -> int:
    """Line of a mapping key (for a value's errors) or a sequence item."""
    if isinstance(node, CommentedMap) and step in node:
        return node.lc.key(step)[0] + 1
    if isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
        return node.lc.item(step)[0] + 1
    return default


def _plain(node: Any) -> Any:
    """ruamel's round-trip types as plain Python, so pydantic sees ordinary data."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _field_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Dotted field path -> line, for every key and item below ``node``."""
    lines: dict[str, int] = {}
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            path = f"{prefix}{key}"
            lines[path] = _child_line(node, key, 1)
            lines.update(_field_lines(value, path + "."))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            path = f"{prefix}{index}"
            lines[path] = _child_line(node, index, 1)
            lines.update(_field_lines(value, path + "."))
    return lines


class _Builder:
    """Validates the document record by record, remembering where each record lives."""

    def __init__(self, collector: _Collector) -> None:
        self.out = collector

    def build(self, doc: Any) -> Inventory | None:
        if doc is None:
            self.out.add(1, "the inventory is empty; expected keys: " + ", ".join(_TOP_KEYS))
            return None
        if not isinstance(doc, CommentedMap):
            self.out.add(_start_line(doc), "the inventory must be a mapping with keys: " + ", ".join(_TOP_KEYS))
            return None
        for key in doc:
            if key not in _TOP_KEYS:
                self.out.add(_child_line(doc, key, 1), f'unknown top-level key "{key}"')
        for key in _REQUIRED_TOP:
            if key not in doc:
                self.out.add(_start_line(doc), f'missing required top-level key "{key}"')
        if "version" in doc and doc["version"] != 1:
            self.out.add(_child_line(doc, "version", 1), f"unsupported version {doc['version']!r}; this wangnet reads version 1")

        credentials = self._credentials(doc)
        sites = self._records(doc, "sites", "site", Site)
        devices = self._records(doc, "devices", "device", Device)
        links = self._records(doc, "links", "link", Link)
        services = self._records(doc, "services", "service", Service)
        sites_line = _child_line(doc, "sites", 1)
        for line, message in cross_check(credentials, sites, devices, links, sites_line, services):
            self.out.add(line, message)
        if self.out.problems:
            return None
        return Inventory(
            version=1,
            credentials={cid: c.record for cid, c in credentials.items() if c.record is not None},
            sites=[s.record for s in sites if s.record is not None],
            devices=[d.record for d in devices if d.record is not None],
            links=[link.record for link in links if link.record is not None],
            services=[svc.record for svc in services if svc.record is not None],
        )

    def _credentials(self, doc: CommentedMap) -> dict[str, Located[Credential]]:
        node = doc.get("credentials")
        if node is None:
            return {}
        if not isinstance(node, CommentedMap):
            self.out.add(_child_line(doc, "credentials", 1), "credentials must be a mapping of id -> {kind: ...}")
            return {}
        result: dict[str, Located[Credential]] = {}
        for cid, value in node.items():
            label = f'credential "{cid}"'
            line = _child_line(node, cid, 1)
            if not isinstance(value, CommentedMap):
                self.out.add(line, f"{label}: must be a mapping such as {{kind: ssh}}")
                continue
            record = self._validate(Credential, value, label, line)
            result[str(cid)] = Located(record, line, _field_lines(value), _plain(value))
        return result

    def _records(self, doc: CommentedMap, key: str, kind: str, model: type[BaseModel]) -> list[Located[Any]]:
        node = doc.get(key)
        if node is None:
            return []
        if not isinstance(node, CommentedSeq):
            self.out.add(_child_line(doc, key, 1), f"{key} must be a list of {kind} records")
            return []
        result: list[Located[Any]] = []
        for index, item in enumerate(node):
            line = _child_line(node, index, 1)
            if not isinstance(item, CommentedMap):
                self.out.add(line, f"{kind} #{index + 1}: must be a mapping with an id")
                continue
            item_id = item.get("id")
            label = f'{kind} "{item_id}"' if isinstance(item_id, str) else f"{kind} #{index + 1}"
            record = self._validate(model, item, label, _start_line(item, line))
            result.append(Located(record, _start_line(item, line), _field_lines(item), _plain(item)))
        return result

    def _validate(self, model: type[BaseModel], node: CommentedMap, label: str, line: int) -> Any:
        try:
            return model.model_validate(_plain(node))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                self.out.add(_error_line(node, error, line), f"{label}: {_error_message(error, model)}")
            return None


def _error_line(node: Any, error: Any, default: int) -> int:
    """Walk pydantic's ``loc`` down the YAML nodes; a missing key reports its mapping's line."""
    line = default
    for step in error["loc"]:
        if isinstance(node, CommentedMap) and step in node:
            line = _child_line(node, step, line)
            node = node[step]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
            line = _child_line(node, step, line)
            node = node[step]
        else:
            if error["type"] == "missing":
                line = _start_line(node, line)
            break
    return line


def _error_message(error: Any, model: type[BaseModel]) -> str:
    loc = [str(p) for p in error["loc"] if isinstance(p, str)]
    field = ".".join(loc) or "value"
    last = loc[-1] if loc else "value"
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        message = f'unknown key "{field}"'
        if model is Credential and any(w in last.lower() for w in _SECRET_WORDS):
            message += " (secret values never go in the inventory; set them in the environment or WANGNET_SECRETS_FILE)"
        return message
    if kind == "missing":
        return f'missing required key "{field}"'
    if kind == "literal_error":
        return f'unknown {field} "{value}" (expected {error["ctx"]["expected"]})'
    if kind == "ip_v4_network":
        return f'{field} "{value}" is not a valid IPv4 network (address/prefix, no host bits set)'
    if kind == "ip_v4_address":
        return f'{field} "{value}" is not a valid IPv4 address'
    if kind == "string_pattern_mismatch":
        if last == "interfaces" or last == "interface":
            return (f'interface name "{value}" is not Linux-safe '
                    '(1-15 characters: letters, digits, ".", "_", ":", "-"; no "/" or spaces)')
        return f'{field} "{value}" is not a valid id (lowercase letters, digits and "-")'
    if kind.startswith("int_"):
        return f'{field} must be a whole number, got "{value}"'
    if kind in ("list_type", "dict_type", "model_type"):
        return f"{field} has the wrong shape: {error['msg'].lower()}"
    return f"{field}: {error['msg']}"
