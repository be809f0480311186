"""Every refusal code of vod/ has its gettext template in web/ (the same English) and a Chinese translation."""
from __future__ import annotations

import re

from vod.reasons import ENGLISH, Reason
from web.vod_reasons import MESSAGES, message

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdf]")


def sample(template: str) -> dict:
    return {name: 1 for name in re.findall(r"%\((\w+)\)", template)}


def test_web_templates_are_exactly_the_vod_english():
    assert MESSAGES.keys() == ENGLISH.keys()
    for code, template in ENGLISH.items():
        assert MESSAGES[code]._args[0] == template, code  # the lazy string's msgid


def test_every_reason_is_translated_with_the_same_placeholders(app):
    for code, template in ENGLISH.items():
        params = sample(template)
        with app.test_request_context("/"):  # zh-CN, the default locale
            chinese = message(Reason(code, params))
            chinese_template = str(MESSAGES[code])
        with app.test_request_context("/?lang=en"):
            english = message(Reason(code, params))
        assert english == template % params, code
        assert chinese != english and re.search(r"[\u4e00-\u9fff]", chinese), (code, chinese)
        assert sorted(PLACEHOLDER.findall(chinese_template)) == sorted(PLACEHOLDER.findall(template)), code


def test_truncation_reads_in_chinese(app):
    with app.test_request_context("/"):
        text = message(Reason("media.truncated", {"seconds": 12.04, "announced": 20.0}))
    assert text == "文件被截断：文件声明时长 20.0 秒，但媒体数据在 12.0 秒处结束"
