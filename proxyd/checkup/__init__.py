"""``proxyd check``: a one-token probe of each provider, and what its failures mean."""
