"""Applying changesets: turning changes into API requests, in dependency order."""
