"""The index and search cards of the operations dashboard, and the views behind their buttons."""
