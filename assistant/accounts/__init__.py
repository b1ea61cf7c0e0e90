"""Operator and partner users: argon2 passwords, TOTP second factor, lockout, sessions, sign-in audit.

    models.py       User, SignInEvent (the audit, also what lockouts count), UserSession (server side)
    credentials.py  password hashing (argon2-cffi), TOTP (pyotp) and the encryption of TOTP secrets
    service.py      AccountService: create, list, disable users; sign in (password, then code); sessions
    retention.py    how long sign-in records and ended sessions are kept

Roles: ``operator`` (the /admin console) and ``partner`` (the partner area, filled by the matching
feature). The web side (``assistant/web/accounts.py``) holds the forms and ``require_role``.
"""
