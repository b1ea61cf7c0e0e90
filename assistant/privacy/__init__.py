"""Privacy by design: PII redaction (and, in later work, encryption, retention, data-subject requests)."""
