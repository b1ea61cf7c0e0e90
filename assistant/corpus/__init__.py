"""Corpus: bundled Markdown documents, the official EUR-Lex text, and chunking."""
