"""Credentials and peers (DESIGN §12): the Settings page, the `verify` job and the sync API's identity."""
