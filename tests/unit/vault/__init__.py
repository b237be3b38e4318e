"""Document vault, sanitising, sniffing, archives and extraction (issue 3)."""
