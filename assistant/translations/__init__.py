"""Interface catalogues (fr, en) read by Flask-Babel; see assistant/web/i18n.py and `make translations`."""
