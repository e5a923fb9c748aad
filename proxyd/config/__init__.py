"""The config file: read (:mod:`.loader`), checked (:mod:`.parse`, with :mod:`.providers`,
:mod:`.groups`, :mod:`.clients`, :mod:`.keys`, :mod:`.services`, :mod:`.yaml_fields`,
:mod:`.yaml_errors`) and held (:mod:`.settings`, the frozen dataclasses the rest of proxyd reads).
Import from the module that owns a name; this package re-exports nothing.
"""
