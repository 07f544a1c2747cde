"""SQL implementation of the raw message store (engine.feeds.ports.MessageLog)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.feeds.model import MessageIdentity, RawMessage
from engine.feeds.ports import MessageLog
from adapters.store import schema as s

_MAX_REASON = 4000


def _add_once(param: Any) -> str:
    """Insert a message, as a duplicate when the same bytes came from its sender under its control id and
    were processed (a re-send that differs, e.g. in MSH-7, is told apart later, under the message's lock)."""
    sender, control_id = f"CAST({param('sender')} AS VARCHAR)", f"CAST({param('control_id')} AS VARCHAR)"
    return f"""
INSERT INTO raw_messages (received, channel, peer, sender, control_id, message_type, status, raw)
SELECT {param('received')}, CAST({param('channel')} AS VARCHAR), CAST({param('peer')} AS VARCHAR), {sender},
       {control_id}, CAST({param('message_type')} AS VARCHAR),
       CASE WHEN EXISTS (SELECT 1 FROM raw_messages m WHERE m.sender = {sender} AND m.control_id = {control_id}
                         AND m.status = 'processed' AND m.raw = {param('raw')}) THEN 'duplicate'
            ELSE 'received' END, {param('raw')}
RETURNING id, status
"""


_ADD_ONCE = sa.text(_add_once(lambda name: f":{name}")).bindparams(sa.bindparam("raw", type_=sa.LargeBinary))
_ADD_ONCE_PG = _add_once(lambda name: f"%({name})s")


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
            **_identity_columns(identity), "status": status, "reason": _text(reason or None, _MAX_REASON),
            "raw": raw})
        return result.scalar_one()

    def add_message_once(self, *, received_us: int, channel: str, peer: str | None, identity: MessageIdentity,
                         raw: bytes) -> tuple[int, bool]:
        if not identity.control_id:
            return super().add_message_once(received_us=received_us, channel=channel, peer=peer, identity=identity,
                                            raw=raw)
        values = {"received": received_us, "channel": channel, "peer": (peer or "")[:200] or None,
                  **_identity_columns(identity), "raw": raw}
        if self._connection.dialect.name == "postgresql":  # the driver directly: once per message
            with self._connection.connection.driver_connection.cursor() as cursor:
                cursor.execute(_ADD_ONCE_PG, values)
                message_id, status = cursor.fetchone()
            return message_id, status == "duplicate"
        row = self._connection.execute(_ADD_ONCE, values).one()
        return row.id, row.status == "duplicate"

    def processed_messages(self, sender: str, control_id: str, limit: int) -> list[tuple[int, bytes]]:
        m = s.raw_messages
        rows = self._connection.execute(
            sa.select(m.c.id, m.c.raw).where(m.c.sender == _text(sender, 400), m.c.control_id == _text(control_id, 200),
                                              m.c.status == "processed").order_by(m.c.id.desc()).limit(limit))
        return [(row.id, bytes(row.raw)) for row in rows]

    def set_message_identity(self, message_id: int, identity: MessageIdentity) -> None:
        m = s.raw_messages
        self._connection.execute(m.update().where(m.c.id == message_id).values(**_identity_columns(identity)))

    def set_message_status(self, message_id: int, status: str, reason: str | None = None) -> None:
        reason = _text(reason or None, _MAX_REASON)
        if self._connection.dialect.name == "postgresql" and self._connection.in_transaction():
            with self._connection.connection.driver_connection.cursor() as cursor:
                cursor.execute("UPDATE raw_messages SET status = %s, reason = %s WHERE id = %s",
                               (status, reason, message_id))
            return
        m = s.raw_messages
        self._connection.execute(m.update().where(m.c.id == message_id).values(status=status, reason=reason))

    def messages(self, *, statuses: tuple[str, ...], limit: int = 100, after_id: int = 0,
                 stuck_before_us: int | None = None) -> list[RawMessage]:
        m = s.raw_messages
        wanted = m.c.status.in_(statuses)
        if stuck_before_us is not None:
            wanted = sa.or_(wanted, sa.and_(m.c.status == "received", m.c.received < stuck_before_us))
        rows = self._connection.execute(sa.select(m).where(wanted, m.c.id > after_id).order_by(m.c.id).limit(limit))
        return [_raw_message(row) for row in rows]

    def message(self, message_id: int) -> RawMessage | None:
        row = self._connection.execute(sa.select(s.raw_messages).where(s.raw_messages.c.id == message_id)).first()
        return _raw_message(row) if row else None


def _text(value: str | None, limit: int) -> str | None:
    """A column value: at most `limit` characters, NUL (which PostgreSQL text refuses) as U+FFFD."""
    return value[:limit].replace("\x00", "\ufffd") if value is not None else None


def _identity_columns(identity: MessageIdentity | None) -> dict[str, str | None]:
    if identity is None:
        return {"sender": None, "control_id": None, "message_type": None}
    return {"sender": _text(identity.sender, 400), "control_id": _text(identity.control_id, 200),
            "message_type": _text(identity.message_type, 40)}
