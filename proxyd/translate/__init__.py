"""Translation between the Responses API and Chat Completions (pure: no I/O imports).

- :mod:`.request`: a Responses request as a Chat Completions request.
- :mod:`.tools`: tools and tool choice, and the map from chat function names back.
- :mod:`.stream`: ``ChatToResponsesStream``, the state machine from chat chunks to Responses events.
- :mod:`.wire`: whole JSON answers, and byte streams in and out of the machine.
- :mod:`.response`, :mod:`.think`: the response object and usage; ``<think>`` splitting.
"""
