"""Relevance indexing: search documents, embeddings, the index port, draining the outbox and hybrid search."""
