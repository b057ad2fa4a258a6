"""Index snapshots: save the served set as a ZIP, download, upload with validation, restore."""
