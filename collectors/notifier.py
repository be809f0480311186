"""Sending alert notifications: e-mail over SMTP and the SMS platform's HTTP hook (I/O).

Who is told: every active user holding one of the configured roles, at the
e-mail address and mobile number on their account. A failing relay is logged
and counted; it never stops the collector.
"""
from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
import urllib.request
from collections import Counter
from email.message import EmailMessage
from typing import Iterable, Mapping

from sqlalchemy import select

from collectors.notify import AlertEvent, Message, Throttle, render
from wangnet.accounts import User, UserRole
from wangnet.config import Settings
from wangnet.store import Store

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, settings: Settings, store: Store, site_names: Mapping[str, str], throttle: Throttle | None = None) -> None:
        self.settings = settings
        self.store = store
        self.site_names = dict(site_names)
        self.throttle = throttle or Throttle()
        self.counts: Counter[str] = Counter()

    def recipients(self) -> list[tuple[str, str | None, str | None]]:
        """(user name, e-mail, mobile) of active users holding a notified role."""
        roles = [r.strip() for r in self.settings.notify_roles.split(",") if r.strip()]
        with self.store.session() as s:
            users = s.scalars(
                select(User).join(UserRole).where(UserRole.role.in_(roles), User.active.is_(True)).distinct()
            )
            return sorted((u.username, u.email, u.mobile) for u in users)

    async def dispatch(self, events: Iterable[AlertEvent]) -> None:
        """Tell everyone concerned about each event, within the throttle."""
        events = list(events)
        if not events:
            return
        people = await asyncio.to_thread(self.recipients)
        now = time.monotonic()
        for event in events:
            for _, email, mobile in people:
                for channel, address in (("email", email), ("sms", mobile)):
                    if not address:
                        continue
                    verdict, held = self.throttle.allow(f"{channel}:{address}", event, now)
                    if verdict != "send":
                        self.counts[f"{channel}_{verdict}"] += 1
                        continue
                    message = render(event, self.site_names, held)
                    await asyncio.to_thread(self._send, channel, address, message)

    def _send(self, channel: str, address: str, message: Message) -> None:
        try:
            if channel == "email":
                self._send_email(address, message)
            else:
                self._send_sms(address, message)
            self.counts[f"{channel}_sent"] += 1
        except (OSError, smtplib.SMTPException) as exc:
            self.counts[f"{channel}_failed"] += 1
            log.error("%s notification to %s failed: %s", channel, address, exc)

    def _send_email(self, address: str, message: Message) -> None:
        if not self.settings.smtp_host:
            raise OSError("no SMTP relay configured (WANGNET_SMTP_HOST)")
        mail = EmailMessage()
        mail["From"] = self.settings.smtp_from
        mail["To"] = address
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(mail)

    def _send_sms(self, number: str, message: Message) -> None:
        if not self.settings.sms_url:
            raise OSError("no SMS platform configured (WANGNET_SMS_URL)")
        body = json.dumps({"to": number, "text": message.short}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.settings.sms_url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status >= 300:
                raise OSError(f"SMS platform answered HTTP {response.status}")
