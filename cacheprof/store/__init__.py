"""Versioned documents on disk: profile JSON and its schema, bench results and their history."""
