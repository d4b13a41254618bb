"""Profiles: one per person, resolved from every source by ``identity``.

Log entries are applied in order: source records (standardized) and tracked identities become
identity nodes, identity resolution clusters them into profiles, events are filed under the
profile of the identity they came in under, and identify traits update the profile. The view
is derivable from the log by ``c360 rebuild``.
"""

from c360.profiles.model import Identifier, Profile
from c360.profiles.service import apply_entries, apply_events

__all__ = ["Identifier", "Profile", "apply_entries", "apply_events"]
