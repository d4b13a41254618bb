"""The web app's feedback inbox: ``/api/feedback-inbox`` lists items most urgent first across
pages (``/api/feedback`` orders within a page of the newest) and filters by assignee too;
``/api/feedback-inbox/filters`` gives the values the inbox's filters offer."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_, or_, select

from c360.api.feedback import STATUSES, FeedbackPage, out
from c360.feedback.model import LEVELS, OPEN_STATUSES, TEAMS, FeedbackConfig
from c360.storage.tables import feedback_items

CURSOR = r"^P[1-4]\.[0-9]{1,3}\.[0-9]{1,18}$"


class InboxFilters(BaseModel):
    statuses: list[str]
    levels: list[str]
    topics: list[str] = Field(description="Configured topics and those items have")
    teams: list[str] = Field(description="Built-in and configured teams and those items have")
    assignees: list[str] = Field(description="Everyone an item is assigned to")
    channels: list[str]


def add_web_feedback_routes(
    router: APIRouter, engine: Engine, read_engine: Engine, config: FeedbackConfig
) -> None:
    @router.get("/feedback-inbox", response_model=FeedbackPage, tags=["feedback"])
    def inbox(
        status: Annotated[str | None, Query(pattern="^(open|" + "|".join(STATUSES) + ")$")] = None,
        team: Annotated[str | None, Query(max_length=40)] = None,
        topic: Annotated[str | None, Query(max_length=40)] = None,
        level: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
        sentiment: Annotated[Literal["negative", "neutral", "positive"] | None, Query()] = None,
        assignee: Annotated[str | None, Query(max_length=200)] = None,
        unassigned: Annotated[bool, Query(description="Only items nobody is assigned")] = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(pattern=CURSOR)] = None,
    ) -> dict[str, Any]:
        """Feedback items by level, then priority, then newest (``status=open``: new, assigned
        or in progress); ``next`` continues after the last item."""
        c = feedback_items.c
        query = select(feedback_items)
        if status == "open":
            query = query.where(c.status.in_([s.value for s in OPEN_STATUSES]))
        elif status:
            query = query.where(c.status == status)
        for column, value in ((c.team, team), (c.topic, topic), (c.level, level)):
            if value:
                query = query.where(column == value)
        if sentiment:
            query = query.where(c.sentiment == sentiment)
        if assignee:
            query = query.where(c.assignee == assignee.strip())
        if unassigned:
            query = query.where(c.assignee.is_(None))
        if cursor:
            after_level, after_priority, after_id = cursor.split(".")
            query = query.where(
                or_(
                    c.level > after_level,
                    and_(
                        c.level == after_level,
                        or_(
                            c.priority < int(after_priority),
                            and_(c.priority == int(after_priority), c.id < int(after_id)),
                        ),
                    ),
                )
            )
        query = query.order_by(c.level, c.priority.desc(), c.id.desc()).limit(limit + 1)
        with read_engine.connect() as conn:
            rows = conn.execute(query).all()
            page = rows[:limit]
            last = page[-1] if page else None
            return {
                "items": [out(conn, r) for r in page],
                "next": f"{last.level}.{last.priority}.{last.id}"
                if last is not None and len(rows) > limit
                else None,
            }

    @router.get("/feedback-inbox/filters", response_model=InboxFilters, tags=["feedback"])
    def filters() -> dict[str, Any]:
        """What the inbox can be filtered by: topics, teams, assignees and channels in use or
        configured."""
        c = feedback_items.c
        with read_engine.connect() as conn:

            def used(column: Any) -> set[str]:
                return {v for (v,) in conn.execute(select(column).distinct()) if v}

            topics = used(c.topic) | set(config.teams) | set(config.topics)
            teams = (
                used(c.team)
                | set(TEAMS)
                | set(config.teams.values())
                | {r.team for r in config.rules}
            )
            return {
                "statuses": list(STATUSES),
                "levels": list(LEVELS),
                "topics": sorted(topics),
                "teams": sorted(teams),
                "assignees": sorted(used(c.assignee), key=str.casefold),
                "channels": sorted(used(c.channel)),
            }
