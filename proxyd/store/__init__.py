"""The response store: translated Responses turns kept for ``previous_response_id`` (SQLite,
:mod:`.sqlite`), and the endpoints that serve and use them (:mod:`.endpoints`)."""
