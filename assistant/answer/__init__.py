"""Answering: input checks, retrieval, composition of a cited answer."""
