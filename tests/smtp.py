"""A real SMTP server (aiosmtpd) in a thread, for the e-mail notice tests."""

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    """What the server received, and the answer it gives to the next mails."""

    received: list[EmailMessage] = field(default_factory=list)
    # e.g. "550 5.7.1 Relaying denied": the server refuses every mail while this is set.
    refusal: str = ""
    # e.g. "550 5.1.1 User unknown": the server refuses every recipient while this is set.
    recipient_refusal: str = ""
    # Set: the next mail's DATA waits until this is set (a send in progress), `held` being
    # set as it begins to wait; the mails after it are answered meanwhile.
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.recipient_refusal:
            return self.recipient_refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if hold := self.hold:
            self.hold = None
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 30)
        if self.refusal:
            return self.refusal
        mail = message_from_bytes(envelope.content, policy=policy.default)
        mail["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.received.append(mail)
        return "250 OK"


def smtp_start() -> tuple[Controller, Inbox]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a port it can connect to when ready
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    return controller, inbox
