"""Plans: what should exist, as operators write it (YAML and/or CSV), loaded into plain data."""
