"""The real clients proxyd exists for, installed and run through proxyd against fake providers of
every wire: ``python -m clients`` (:mod:`clients.matrix`), the e2e tests' matrix, and the
captured requests the fixture tests replay (:mod:`clients.capture`)."""
