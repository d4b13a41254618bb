"""Profiles: a first view of each person, derived from the log.

Reads log entries in order and attaches each to a profile keyed by the identifiers it carries
(``user_id``, ``anonymous_id``, ``email`` and alias links); identify traits update the
profile. Identity resolution (a later area) replaces the matching; the view stays derivable
from the log by ``c360 rebuild``.
"""

from c360.profiles.model import Identifier, Profile
from c360.profiles.service import apply_events

__all__ = ["Identifier", "Profile", "apply_events"]
