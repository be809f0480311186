"""The deployment template renderer: strict both ways, clear about what is wrong."""
from __future__ import annotations

import pytest

from wangnet.deploy_templates import TemplateError, main, placeholders, render, render_file


def test_placeholders_and_rendering():
    text = "listen @HTTPS_LISTEN@ ssl;\nroot @VOD_DIR@;  # $uri stays nginx's\n"
    assert placeholders(text) == {"HTTPS_LISTEN", "VOD_DIR"}
    assert render(text, {"HTTPS_LISTEN": "0.0.0.0:443", "VOD_DIR": "/srv/vod"}) == \
        "listen 0.0.0.0:443 ssl;\nroot /srv/vod;  # $uri stays nginx's\n"


def test_missing_and_unknown_values_are_named_with_the_template():
    with pytest.raises(TemplateError, match=r"^wangnet.conf: no value for B, C; PORT not in the template$"):
        render("@A@ @B@ @C@", {"A": 1, "PORT": 2}, source="wangnet.conf")


def test_a_value_spanning_lines_is_refused():
    with pytest.raises(TemplateError, match="value of A spans lines"):
        render("root @A@;", {"A": "/srv;\n}"})


def test_render_file_and_the_command_line(tmp_path, capsys):
    template = tmp_path / "t.conf"
    template.write_text("server_name @SERVER_NAME@;\n")
    out = tmp_path / "out.conf"
    assert render_file(template, {"SERVER_NAME": "noc.example"}, out=out) == "server_name noc.example;\n"
    assert out.read_text() == "server_name noc.example;\n"
    assert main([str(template), "SERVER_NAME=a.example"]) == 0
    assert capsys.readouterr().out == "server_name a.example;\n"
    assert main([str(template)]) == 1
    assert "no value for SERVER_NAME" in capsys.readouterr().err
    assert main([]) == 2
