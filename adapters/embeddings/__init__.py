"""Text embeddings from local sentence-transformers models (the packaged all-MiniLM-L6-v2 by default)."""
