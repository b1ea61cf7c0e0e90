"""Retrieval: embeddings, vector store, lexical index, glossary expansion and hybrid fusion."""
