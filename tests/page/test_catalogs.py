"""The page's catalogs (``proxyd/page/assets/i18n/LANG.json``) against the code that uses them:
no key missing from a language, no key that nothing uses, the same ``{slots}`` in every
language, and no text left in English where a translation belongs.

A key is used when the page's code names it (``t("key")``, ``tn("key", n)``, ``rich("key")``,
``data-i18n="key"``), or when it names a family (``t("state." + s)``) whose members come from
proxyd's own tables, read here from the modules that own them. Diagnoses, ``proxyd check``'s
notes and tool-call verdicts reach the page in English from the server, so en.json has none of
them and every other language has them all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from proxyd import diagnosis, errors, reachability
from proxyd.config.settings import STRATEGIES
from proxyd.local.plan import STATES
from proxyd.page import actions, handlers, view
from proxyd.toolcalls import verdicts

ASSETS = Path(handlers.__file__).parent / "assets"
CATALOGS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((ASSETS / "i18n").glob("*.json"))}
CODE = "\n".join(
    (ASSETS / name).read_text(encoding="utf-8") for name in ("index.html", "i18n.js", "page.js", "tabs.js")
)
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")
SLOT = re.compile(r"\{(\w+)\}")

# Families the code names by prefix, and where their members come from.
FAMILIES: dict[str, set[str]] = {
    "state.": set(get_args(reachability.State)),
    "local.state.": set(STATES),
    "not_editable.": {*handlers.NOT_EDITABLE, "viewer"},  # viewer: proxyd.visibility's read-only page
    "group.strategy.": set(STRATEGIES),
    "failure.": set(errors.FAILURES),
    "done.": set(actions.DONE),
    "badge.": set(view.BADGES),
    "models.source.": {"config", "discovered", "unlisted"},  # proxyd.catalog's and view.model_rows' sources
    "budget.": {f"{kind}.{period}" for kind in ("client", "provider") for period in ("day", "month")},  # page.usage
}
# Said by the server in English: every language but English has them.
SERVER_SAID: dict[str, dict[str, str]] = {
    "cause.": diagnosis.CAUSES,
    "fix.": diagnosis.FIXES,
    "note.": diagnosis.NOTES,
    "tools.says.": verdicts.SAY,
    "tools.fix.": verdicts.FIXES,
}
# Texts that read the same in every language: names of products, wires and units.
SAME_EVERYWHERE = {"error.http", "failure.status", "cause.http_error", "traffic.col.p50", "traffic.col.p95", "traffic.col.ttft",
                   "traffic.col.ms", "budget.of", "usage.unpriced", "card.models_default.other"}  # fmt: skip


def static_keys() -> set[str]:
    named = set(re.findall(r'\b(?:t|tn|rich)\("([a-z0-9_.-]+)"(?!\s*\+)', CODE))
    return named | set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z0-9_.-]+)"', CODE))


def plural_bases() -> set[str]:
    return set(re.findall(r'\btn\("([a-z0-9_.-]+)"', CODE))


def error_keys(catalog: dict[str, str]) -> set[str]:
    """The refusals the page words itself: each must be a code proxyd's page can answer with."""
    return {k for k in catalog if k.startswith("error.") and k != "error.http"}


def used(lang: str) -> set[str]:
    keys = {k for k in static_keys() if k not in plural_bases()}
    keys |= {f"{base}.{form}" for base in plural_bases() for form in PLURAL_FORMS if f"{base}.{form}" in CATALOGS[lang]}
    keys |= {f"{base}.other" for base in plural_bases()}
    keys |= {prefix + member for prefix, members in FAMILIES.items() for member in members}
    keys |= error_keys(CATALOGS["en"])
    if lang != "en":
        keys |= {prefix + code for prefix, table in SERVER_SAID.items() for code in table}
    return keys


def test_every_language_has_a_catalog_and_a_name_in_the_switch() -> None:
    listed = re.search(r"const LANGUAGES = \{(.*?)\};", CODE)
    assert listed is not None
    assert set(re.findall(r"(\w+): \"", listed[1])) == set(CATALOGS) >= {"en", "vi", "zh"}


def test_the_code_names_only_families_whose_members_are_known() -> None:
    prefixes = set(re.findall(r'\b(?:t|tn)\("([a-z0-9_.-]+)"\s*\+', CODE))
    assert prefixes <= {*FAMILIES, "error."}, "a new family of keys: say where its members come from in FAMILIES"


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_no_key_is_missing_and_none_is_unused(lang: str) -> None:
    catalog, wanted = CATALOGS[lang], used(lang)
    english = {**CATALOGS["en"], **{p + c: t for p, table in SERVER_SAID.items() for c, t in table.items()}}
    missing = {k: english.get(k, "?") for k in sorted(wanted - set(catalog))}
    assert not missing, f"{lang}.json lacks (with the English to translate): {json.dumps(missing, indent=1)}"
    assert not set(catalog) - wanted, f"{lang}.json has keys nothing uses: {sorted(set(catalog) - wanted)}"
    if lang == "en":
        for base in plural_bases():
            assert f"{base}.one" in catalog, f"English says one {base} apart from many"


def test_the_pages_refusals_are_codes_proxyd_answers_with() -> None:
    sources = "\n".join(p.read_text() for p in Path(handlers.__file__).parents[1].rglob("*.py"))
    for key in error_keys(CATALOGS["en"]):
        code = key.removeprefix("error.")
        if code.startswith("invalid_form."):
            assert f'invalid("{code.removeprefix("invalid_form.")}"' in sources or code.endswith(".base_url")
        else:
            assert f'"{code}"' in sources, f"no part of proxyd answers with {code}"


@pytest.mark.parametrize("lang", sorted(set(CATALOGS) - {"en"}))
def test_translations_keep_their_slots_and_leave_nothing_in_english(lang: str) -> None:
    english = {**CATALOGS["en"], **{p + c: t for p, table in SERVER_SAID.items() for c, t in table.items()}}
    for key, text in CATALOGS[lang].items():
        slots, source = set(SLOT.findall(text)), set(SLOT.findall(english[key]))
        if key.startswith("error."):  # a translation may say the whole of it instead of quoting the English
            assert slots <= source, (key, text)
        else:
            assert slots == source, (key, text)
        assert text.count("`") % 2 == 0, (key, text)
        if key not in SAME_EVERYWHERE:
            assert text != english[key], f"{lang}.json: {key} is still the English"


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_code_spans_are_balanced(lang: str) -> None:
    for key, text in CATALOGS[lang].items():
        assert text.count("`") % 2 == 0, (lang, key)
