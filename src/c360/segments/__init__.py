"""Segments: audiences defined by conditions, kept current as profiles change and time passes."""
