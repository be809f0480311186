"""Fill the deployment templates under ``deploy/`` (nginx, Prometheus, Alertmanager) with a site's values.

The shipped files keep the few site-specific values as ``@NAME@`` placeholders
(nginx and Prometheus both use ``$`` for their own variables, so ``string.Template``
would not do). Rendering is strict on purpose: a placeholder left unfilled, or a
value given for a name the template does not have, is an error naming both —
a half-rendered proxy config would otherwise fail at 3 a.m., or worse, start.

    python -m wangnet.deploy_templates deploy/nginx/wangnet.conf SERVER_NAME=noc.example ... > out.conf
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Mapping

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


class TemplateError(ValueError):
    """A template and its values do not match; the message names the template and the names."""


def placeholders(text: str) -> set[str]:
    """The names a template asks for."""
    return set(PLACEHOLDER.findall(text))


def render(text: str, values: Mapping[str, object], source: str = "template") -> str:
    """The template with every ``@NAME@`` replaced by ``values[NAME]``; strict both ways."""
    wanted = placeholders(text)
    missing = sorted(wanted - set(values))
    unknown = sorted(set(values) - wanted)
    problems = []
    if missing:
        problems.append(f"no value for {', '.join(missing)}")
    if unknown:
        problems.append(f"{', '.join(unknown)} not in the template")
    bad = sorted(k for k, v in values.items() if "\n" in str(v))
    if bad:
        problems.append(f"value of {', '.join(bad)} spans lines")
    if problems:
        raise TemplateError(f"{source}: " + "; ".join(problems))
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def render_file(path: Path, values: Mapping[str, object], out: Path | None = None) -> str:
    """Render one template file (and write it to ``out`` when given)."""
    text = render(path.read_text(encoding="utf-8"), values, source=str(path))
    if out is not None:
        out.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv[1:]):
        print("usage: python -m wangnet.deploy_templates TEMPLATE NAME=VALUE ...", file=sys.stderr)
        return 2
    values = dict(a.split("=", 1) for a in argv[1:])
    try:
        sys.stdout.write(render_file(Path(argv[0]), values))
    except (TemplateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
