"""What requests cost and who may spend how much: prices (:mod:`.prices`, :mod:`.book`), the
usage ledger (:mod:`.ledger` and its stores), the report (:mod:`.report`)."""
