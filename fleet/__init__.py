"""Composition root: settings, logging set-up and the `fleet` command line."""
