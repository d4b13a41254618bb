"""The change feed (every change to a profile, in order) and the webhook subscriptions that
follow it."""
