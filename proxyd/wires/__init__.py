"""One adapter per API proxyd speaks, and the pivot between them (pure: no I/O imports).

- :mod:`.pivot`: the form every translation goes through (Chat Completions, read as data), and why.
- :mod:`.chat`, :mod:`.responses`: the adapters. Each owns its API: the path a provider serves it
  at, a client request to the pivot and a pivot request to its own form, whole answers and
  streams both ways, its terminal marker and stream check, its error event.
- :mod:`.registry`: the adapters by name and by client endpoint.
- :mod:`.translator`: a provider's stream in one wire turned into a client's stream in another.

Adding a wire is adding an adapter and registering it.
"""
