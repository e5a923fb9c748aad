"""The first five minutes: finding what a machine already has and writing a config for it (``proxyd init``)."""
