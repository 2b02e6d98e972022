"""Versioned documents on disk: profile JSON and its schema, bench suites, and the bench history database
with its run documents."""
