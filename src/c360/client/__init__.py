"""The Python client of c360's management API: profiles, timelines, briefings, the change
feed, identity decisions, sources and data quality, over HTTP.

It sits outside the data flow, talking to a running server the way any program would: it
imports nothing of the server (only ``c360.__version__``) and needs only httpx, so it works
next to a server it does not run. See ``docs/client.md``.

::

    from c360.client import C360Client

    with C360Client("http://127.0.0.1:8000", "c360_read_...") as c360:
        profile = c360.profile_by_identifier("phone", "081-234-5678")
        for item in c360.timeline(profile.id, kinds="order,ticket"):
            print(item.at, item.kind, item.body.get("fields"))
"""

from c360.client.errors import (
    C360Error,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServerError,
    Unauthorized,
)
from c360.client.management import C360Client
from c360.client.model import (
    Briefing,
    Change,
    Event,
    FieldQuality,
    Identifier,
    Identity,
    MessageRecord,
    MessageStatus,
    Profile,
    RecordRef,
    Reject,
    ReviewDecision,
    ReviewItem,
    SearchHit,
    Source,
    SourceQuality,
    TimelineItem,
)
from c360.client.paging import Pages
from c360.client.stream import ChangeStream

__all__ = [
    "Briefing",
    "C360Client",
    "C360Error",
    "Change",
    "ChangeStream",
    "Conflict",
    "ConnectionFailed",
    "Event",
    "FieldQuality",
    "Forbidden",
    "Identifier",
    "Identity",
    "InvalidRequest",
    "MessageRecord",
    "MessageStatus",
    "NotFound",
    "Pages",
    "Profile",
    "RecordRef",
    "Reject",
    "ReviewDecision",
    "ReviewItem",
    "SearchHit",
    "ServerError",
    "Source",
    "SourceQuality",
    "TimelineItem",
    "Unauthorized",
]
