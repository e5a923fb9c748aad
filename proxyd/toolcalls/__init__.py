"""Tool calls, checked as they pass and repaired when asked (pure).

proxyd sees every request with its tools and every answer with its calls, on every wire, so it
can tell "this model cannot use tools" from "this call was malformed":

- :mod:`.offered`: the tools a request offers, by the name a call uses (from the pivot's form);
- :mod:`.schemas`: their argument schemas, compiled once per distinct schema (``jsonschema``);
- :mod:`.judge`: one call judged (offered name, JSON arguments, schema), and the repair that
  would make it valid without inventing a value;
- :mod:`.in_text`: calls a model wrote as text (a server without its tool parser);
- :mod:`.hold`: which text a stream must hold back while it may still be a call (repair on);
- :mod:`.watch`: a pivot stream and a whole pivot answer, checked and (repair on) rewritten;
- :mod:`.health`: what a model's recent answers say about its tool calling, in words.
"""
