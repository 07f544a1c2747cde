"""SQL implementation of the raw message store (engine.feeds.ports.MessageLog)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.feeds.model import MessageIdentity, RawMessage
from engine.feeds.ports import MessageLog
from adapters.store import schema as s

_MAX_REASON = 4000


def _raw_message(row: Any) -> RawMessage:
    return RawMessage(row.id, row.received, row.channel, row.peer, row.sender, row.control_id, row.message_type,
                      row.status, row.reason, bytes(row.raw))


class SqlMessageLog(MessageLog):
    """Message log operations on the unit of work's connection (mixed into SqlUnitOfWork)."""

    _connection: sa.Connection

    def add_message(self, *, received_us: int, channel: str, peer: str | None, identity: MessageIdentity | None,
                    status: str, reason: str | None, raw: bytes) -> int:
        result = self._connection.execute(s.raw_messages.insert().returning(s.raw_messages.c.id), {
            "received": received_us, "channel": channel, "peer": (peer or "")[:200] or None,
            "sender": identity.sender[:400] if identity else None,
            "control_id": identity.control_id[:200] if identity else None,
            "message_type": identity.message_type[:40] if identity else None,
            "status": status, "reason": reason[:_MAX_REASON] if reason else None, "raw": raw})
        return result.scalar_one()

    def processed_message(self, sender: str, control_id: str) -> int | None:
        m = s.raw_messages
        return self._connection.execute(
            sa.select(m.c.id).where(m.c.sender == sender[:400], m.c.control_id == control_id[:200],
                                    m.c.status == "processed").limit(1)).scalar_one_or_none()

    def set_message_status(self, message_id: int, status: str, reason: str | None = None) -> None:
        m = s.raw_messages
        self._connection.execute(m.update().where(m.c.id == message_id).values(
            status=status, reason=reason[:_MAX_REASON] if reason else None))

    def messages(self, *, statuses: tuple[str, ...], limit: int = 100, after_id: int = 0) -> list[RawMessage]:
        m = s.raw_messages
        rows = self._connection.execute(sa.select(m).where(m.c.status.in_(statuses), m.c.id > after_id)
                                        .order_by(m.c.id).limit(limit))
        return [_raw_message(row) for row in rows]

    def message(self, message_id: int) -> RawMessage | None:
        row = self._connection.execute(sa.select(s.raw_messages).where(s.raw_messages.c.id == message_id)).first()
        return _raw_message(row) if row else None
