import pytest

from vod.search import EpisodeText, Fts5Search, fts_phrase, like_pattern, query_terms


def test_query_terms():
    assert query_terms("  新闻联播，焦点访谈 Focus  focus ") == ["新闻联播", "焦点访谈", "focus"]
    assert query_terms("《内蒙古新闻》") == ["内蒙古新闻"]
    assert query_terms("") == []


def test_quoting():
    assert fts_phrase('a"b OR c') == '"a""b OR c"'
    assert like_pattern("50%_x") == "%50\\%\\_x%"


@pytest.fixture
def index(tmp_path):
    idx = Fts5Search(tmp_path / "search.sqlite")
    idx.rebuild([
        EpisodeText(1, "鄂尔多斯新闻 康巴什区冬季供暖", "全市供暖 heating season", "供暖,winter", "鄂尔多斯新闻 Ordos News"),
        EpisodeText(2, "焦点访谈 乡镇电子政务", "township e-government links", "电子政务", "焦点访谈 Focus Report"),
        EpisodeText(3, "新闻联播 2026年11月24日", "会议 全国", "", "新闻联播 Xinwen Lianbo"),
    ])
    return idx


@pytest.mark.parametrize("query, ids", [
    ("康巴什", [1]), ("冬季供暖", [1]), ("供暖", [1]), ("政务", [2]), ("会议", [3]), ("旗", []),
    ("HEATING", [1]), ("Focus", [2]), ("township links", [2]), ("新闻", [1, 3]), ("联播 会议", [3]),
    ('"; DROP TABLE episodes; --', []), ("100%", []),
])
def test_search(index, query, ids):
    assert sorted(index.search(query)) == ids


def test_put_replaces_and_remove_forgets(index):
    index.put(EpisodeText(1, "改名的节目", "", "", "x"))
    assert index.search("康巴什") == [] and index.search("改名的") == [1]
    index.remove(1)
    assert index.search("改名的") == []
    assert index.count() == 2
