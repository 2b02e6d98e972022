"""Everything a person reads: terminal tables and live progress, HTML/Markdown reports, charts."""
