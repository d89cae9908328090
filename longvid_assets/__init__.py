"""longvid: one long prompt in, a long narrated video out, as Dagster assets."""
