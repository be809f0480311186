from topology.layout import wang_layout


def test_every_site_is_placed_on_its_tier_bar(sample):
    layout = wang_layout(sample)
    assert set(layout.sites) == {s.id for s in sample.sites}
    bar_y = {bar.tier: bar.y for bar in layout.bars}
    assert bar_y["city"] < bar_y["banner"] < bar_y["township"]
    for site in sample.sites:
        assert layout.sites[site.id].y == bar_y[site.tier]
        assert 0 <= layout.sites[site.id].x <= layout.width


def test_townships_sit_in_one_block_under_their_banner(sample):
    layout = wang_layout(sample)
    banners = [s for s in sample.sites if s.tier == "banner"]
    blocks = []
    for banner in banners:
        xs = [layout.sites[c.id].x for c in sample.children(banner.id)]
        assert min(xs) <= layout.sites[banner.id].x <= max(xs)
        blocks.append((min(xs), max(xs)))
    for (_, end), (start, _) in zip(blocks, blocks[1:]):
        assert end < start  # blocks do not interleave


def test_townships_do_not_overlap(sample):
    layout = wang_layout(sample)
    xs = sorted(layout.sites[s.id].x for s in sample.sites if s.tier == "township")
    assert min(b - a for a, b in zip(xs, xs[1:])) >= 20


def test_city_core_routers_have_their_own_anchor(sample):
    layout = wang_layout(sample)
    assert set(layout.devices) == {"city-core-1", "city-core-2"}
    assert layout.anchor("dalad-rt", "dalad") == layout.sites["dalad"]
