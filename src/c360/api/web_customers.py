"""Customer 360 reads the web app needs beyond the profile routes: the messages journeys sent a
profile, with what became of each (delivered, opened, clicked)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, Select, select

from c360.identity.decisions import live_profile_id
from c360.kernel.clock import isoformat_us
from c360.storage.tables import journeys, messages


class MessageOut(BaseModel):
    id: int
    journey: str | None = Field(description="The journey that sent it, by name")
    step: str | None
    channel: str
    address: str = Field(description="Where it went (an email address or a phone number)")
    purpose: str
    subject: str | None
    status: str = Field(
        description="queued, sending, sent, delivered, bounced, failed, skipped or cancelled"
    )
    reason: str | None = Field(description="Why it was skipped or failed")
    created_at: str
    sent_at: str | None
    opened_at: str | None
    clicked_at: str | None


class MessagesPage(BaseModel):
    profile_id: str
    messages: list[MessageOut]
    next: str | None = Field(description="Cursor for the next (older) page, or null at the end")


def profile_messages_query(profile_id: str, limit: int, before_id: int | None) -> Select[Any]:
    """A profile's messages, newest first, with the name of the journey that sent each."""
    stmt = (
        select(messages, journeys.c.name.label("journey_name"))
        .select_from(messages.outerjoin(journeys, journeys.c.id == messages.c.journey_id))
        .where(messages.c.profile_id == profile_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(messages.c.id < before_id)
    return stmt


def profile_messages(
    conn: Connection, profile_id: str, limit: int, before_id: int | None
) -> tuple[str, list[MessageOut], bool]:
    """(the live profile id, one page of its messages, whether older ones remain)."""
    live = live_profile_id(conn, profile_id)
    rows = conn.execute(profile_messages_query(live, limit + 1, before_id)).all()

    def at(value: int | None) -> str | None:
        return isoformat_us(value) if value else None

    found = [
        MessageOut(
            id=row.id,
            journey=row.journey_name,
            step=row.step,
            channel=row.channel,
            address=row.address,
            purpose=row.purpose,
            subject=row.subject,
            status=row.status,
            reason=row.reason,
            created_at=isoformat_us(row.created_at_us),
            sent_at=at(row.sent_at_us),
            opened_at=at(row.opened_at_us),
            clicked_at=at(row.clicked_at_us),
        )
        for row in rows[:limit]
    ]
    return live, found, len(rows) > limit


def add_web_customers_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """``/profiles/{id}/messages``."""

    @router.get("/profiles/{profile_id}/messages", response_model=MessagesPage)
    def messages_of_profile(
        profile_id: Annotated[str, Path(max_length=36)],
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> MessagesPage:
        """What journeys sent (or chose not to send) this profile, newest first, with
        delivery, opens and clicks; follow ``next`` for older ones."""
        with read_engine.connect() as conn:
            live, found, more = profile_messages(
                conn, profile_id, limit, int(cursor) if cursor else None
            )
        return MessagesPage(
            profile_id=live,
            messages=found,
            next=str(found[-1].id) if more and found else None,
        )
