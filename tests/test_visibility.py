"""What a viewer reads of the page's data: no key source or program path, even inside a
diagnosis or a Test's result (pure)."""

from __future__ import annotations

import json

from proxyd.diagnosis import Diagnosis
from proxyd.visibility import page_for


def test_a_viewer_reads_diagnoses_without_what_locates_a_key_or_a_file() -> None:
    rejected = Diagnosis("key_rejected", {"status": 401, "said": "bad key", "key_source": "env PREMIUM_KEY"})
    unstartable = Diagnosis("local_unstartable", {"name": "llama", "error": "No such file", "program": "/opt/l/server"})
    provider = {
        "name": "cloud", "key": "env PREMIUM_KEY", "cause": rejected.cause, "fix": rejected.fix,
        "diagnosis": rejected.as_json(),
        "test": {"ok": False, "cause": rejected.cause, "fix": rejected.fix, "diagnosis": rejected.as_json(),
                 "curl": 'curl -H "Authorization: Bearer $PREMIUM_KEY" ...'},
        "local": {"state": "crashed", "pid": None, "last_lines": ["/opt/l/model.gguf"], "error": unstartable.cause,
                  "diagnosis": unstartable.as_json()},
        "local_models": None,
    }  # fmt: skip
    doc = {"providers": [provider], "traffic": {"recent": [1], "by_provider": {}}, "reload_failed": None}
    seen = page_for(doc, "viewer")["providers"][0]
    text = json.dumps(seen)
    assert "PREMIUM_KEY" not in text and "/opt/l" not in text, text
    assert seen["fix"] == "the key comes from …: check it is the right key for this base_url and is not expired"
    assert seen["diagnosis"]["params"]["key_source"] == "…" and seen["test"]["curl"] is None
    assert seen["local"]["error"] == "local server 'llama' could not be started: No such file (…)"
    assert page_for(doc, "admin")["providers"][0] == provider  # the admin reads it all
