"""WSGI entry for gunicorn: `gunicorn 'assistant.web.wsgi:app'` (settings from the environment).

Importing this module builds every service (``create_app`` -> ``build_services``). Do not use
gunicorn's ``--preload``: each worker must build its own, since database pools, the Chroma client
and its HTTP connections must not be shared across a fork.
"""

from . import create_app

app = create_app()
