"""The composition root's engine room: one asyncio loop in a background thread.

``wangnet serve`` runs Flask (WSGI, threads) and the network services (pollers,
trap receiver, SIP, conference bridge — asyncio) in one process. The services
live on this loop; web views reach them with ``Runtime.call`` which wraps
``asyncio.run_coroutine_threadsafe``. Areas plug in by providing an object
that satisfies ``Service``; only the runtime decides what runs.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any, Coroutine, Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Service(Protocol):
    """What an area hands to the runtime: a name and async start/stop."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime:
    """Owns the loop thread and the started services, in start order."""

    def __init__(self, services: list[Service] | None = None) -> None:
        self._services: list[Service] = list(services or [])
        self._started: list[Service] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("runtime not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def find(self, kind: type[T]) -> T | None:
        """The hosted service of this type, if any: how the web app reaches a service living in this process."""
        return next((s for s in self._services if isinstance(s, kind)), None)

    def add(self, service: Service) -> None:
        if self.running:
            raise RuntimeError("add services before start()")
        self._services.append(service)

    def start(self, timeout: float = 30.0) -> None:
        """Start the loop thread and every service; a failing service stops those already started."""
        self._thread = threading.Thread(target=self._run_loop, name="wangnet-runtime", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("asyncio loop did not start")
        self.call(self._start_services(), timeout=timeout)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the loop from another thread and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the loop without waiting."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop services in reverse order, then the loop; safe to call twice."""
        if not self.running:
            return
        try:
            self.call(self._stop_services(), timeout=timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self._thread is not None
            self._thread.join(timeout)

    def _run_loop(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _start_services(self) -> None:
        for service in self._services:
            try:
                await service.start()
            except Exception:
                log.exception("service %s failed to start", service.name)
                await self._stop_services()
                raise
            self._started.append(service)
            log.info("service %s started", service.name)

    async def _stop_services(self) -> None:
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:  # one bad stop must not keep the others running
                log.exception("service %s failed to stop", service.name)

