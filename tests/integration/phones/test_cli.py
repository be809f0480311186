"""``wangnet phones`` against a real store: add, list, import (passwords to a 600 file), export, plan, check."""
from __future__ import annotations

import csv
import io
import json
import stat

from click.testing import CliRunner

from tests.conftest import SAMPLE_INVENTORY
from wangnet.cli import main


def run(settings, *args):
    env = {"WANGNET_VAR_DIR": str(settings.var_dir), "WANGNET_INVENTORY": str(SAMPLE_INVENTORY)}
    return CliRunner().invoke(main, ["phones", *args], env=env, catch_exceptions=False)


def test_plan_lists_every_site(settings):
    result = run(settings, "plan", "--json")
    assert result.exit_code == 0
    plan = json.loads(result.output)
    assert len(plan) == 59 and plan[0]["prefix"] == "100"
    assert "301  301001–301999    shulinzhao (树林召镇)" in run(settings, "plan").output


def test_add_list_import_export(settings, tmp_path):
    added = run(settings, "add", "--site", "shulinzhao", "--name", "值班室", "--mac", "00:00:00:00:00:09")
    assert added.exit_code == 0, added.output
    assert "phone 301001 created at shulinzhao" in added.output
    password = added.output.split("SIP password:")[1].split()[0]
    bad = run(settings, "add", "--site", "dalad", "--extension", "301002")
    assert bad.exit_code == 1 and "is not in site \"dalad\"'s block" in bad.output

    src = tmp_path / "in.csv"
    src.write_text("site,display_name\ndalad,办公室\nnowhere,x\n", encoding="utf-8")
    out = tmp_path / "pw.csv"
    refused = run(settings, "import", str(src), "--output", str(out))
    assert refused.exit_code == 1 and 'line 3: unknown site "nowhere"' in refused.output and not out.exists()
    src.write_text("site,display_name\ndalad,办公室\ncity,市政府\n", encoding="utf-8")
    done = run(settings, "import", str(src), "--output", str(out))
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["extension"] for r in rows] == ["300001", "100001"]
    again = run(settings, "import", str(src), "--output", str(out))
    assert again.exit_code == 1 and "exists" in again.output

    listing = json.loads(run(settings, "list", "--json").output)
    assert [p["extension"] for p in listing] == ["100001", "300001", "301001"]
    assert json.loads(run(settings, "list", "--banner", "dalad", "--unregistered", "--json").output)[0]["extension"] == "300001"
    export = run(settings, "export").output
    assert "301001" in export and password not in export
    for r in rows:
        assert r["password"] not in export
    assert run(settings, "check").output.strip().endswith("3 phone(s) fit the extension plan")
    reset = run(settings, "reset-password", "301001")
    assert reset.exit_code == 0 and password not in reset.output
