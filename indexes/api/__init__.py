"""The index and search API (GET /api/index, GET /api/search)."""
