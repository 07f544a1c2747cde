"""Search index adapters: Elasticsearch and an embedded SQLite FTS5 + numpy index behind `SearchIndex`."""
