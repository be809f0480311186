import asyncio

import pytest

from wangnet.runtime import Runtime


class Recorder:
    def __init__(self, name, log, fail=False):
        self.name, self.log, self.fail = name, log, fail

    async def start(self):
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")
        self.log.append(("start", self.name))

    async def stop(self):
        self.log.append(("stop", self.name))


def test_services_start_in_order_and_stop_in_reverse():
    log = []
    rt = Runtime([Recorder("a", log), Recorder("b", log)])
    rt.start()
    try:
        assert rt.call(asyncio.sleep(0, result=42)) == 42
    finally:
        rt.stop()
    assert log == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    assert not rt.running


def test_failed_start_stops_the_started_ones():
    log = []
    rt = Runtime([Recorder("a", log), Recorder("b", log, fail=True)])
    with pytest.raises(RuntimeError, match="b cannot start"):
        rt.start()
    rt.stop()
    assert log == [("start", "a"), ("stop", "a")]
