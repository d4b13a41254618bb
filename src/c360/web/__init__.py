"""The web app served by ``c360 serve`` (static assets in ``static/``, no CDN)."""
