"""Connectors implement the outside-world protocols of the areas below them.

An area that needs a provider declares a ``Protocol`` (``activation.Channel``); a module here
speaks the provider's documented API to satisfy it, and an entry point wires the two together.
Nothing below ``connectors`` imports from it.
"""
