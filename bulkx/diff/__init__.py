"""The diff: desired state (a plan) against live state, as a changeset of plain data."""
