"""Privacy by design: PII redaction and the retention registry (later: field encryption, data-subject requests)."""
