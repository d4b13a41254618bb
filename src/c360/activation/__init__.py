"""Activation: journeys that act on profiles and segments, on each person's own channel.

Sits after segments in the data flow: it reads profiles, memberships and the change feed, and
writes what it does back as events on the person's timeline. Providers (SMTP, SMS, LINE, Zalo,
push, webhooks) are reached through the ``Channel`` protocol, implemented in ``c360.connectors``.
"""
