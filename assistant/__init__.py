"""GDPR assistant: grounded answers about the GDPR (RGPD) for SMEs, with citations to official sources."""

__version__ = "0.1.0"
