"""Translation between the Responses API and Chat Completions (pure: no I/O imports).

- :mod:`.request`: a Responses request as a Chat Completions request.
- :mod:`.tools`: tools and tool choice, and the map from chat function names back.
"""
