"""Self-contained HTML reports (no CDN, images inlined) shared by every command that reports."""
