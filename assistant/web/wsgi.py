"""WSGI entry for gunicorn: `gunicorn 'assistant.web.wsgi:app'` (settings from the environment)."""

from . import create_app

app = create_app()
