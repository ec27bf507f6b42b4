"""The documentation is executable: every ```normrules block in docs/*.md is a complete ruleset
that compiles and whose examples pass; every keyword is documented; the keyword list inside the
UNIT terminal of the grammar matches the grammar's keywords."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    import normrules
except ImportError:  # not installed into the venv: run from the source tree
    sys.path.insert(0, str(ROOT / "src"))
    import normrules

import normrules.examples
import normrules.parse

DOCS = ROOT / "docs"
LANGUAGE = DOCS / "language.md"
GRAMMAR = ROOT / "src" / "normrules" / "grammar" / "normrules.lark"
TAXONOMY = ROOT / "src" / "normrules" / "data" / "miit_taxonomy.json"

_FENCE = re.compile(r"^```normrules[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def normrules_blocks() -> list[tuple[str, int, str]]:
    """(doc file, line of the opening fence, block text) for every ```normrules block."""
    out = []
    for md in sorted(DOCS.glob("*.md")):
        text = md.read_text("utf-8")
        for m in _FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((str(md.relative_to(ROOT)), line, m.group(1)))
    return out


BLOCKS = normrules_blocks()


def test_language_reference_has_complete_rulesets():
    assert LANGUAGE.is_file()
    assert sum(1 for f, _, _ in BLOCKS if f.endswith("language.md")) >= 5


@pytest.mark.parametrize("doc,line,text", BLOCKS, ids=[f"{f}:{n}" for f, n, _ in BLOCKS])
def test_normrules_block_compiles_and_its_examples_pass(doc, line, text):
    # The file name carries the doc position, so a diagnostic points at the block.
    ruleset = normrules.loads(text, f"{doc}@{line}")
    assert not [w for w in ruleset.warnings], f"{doc}:{line}: warnings {ruleset.warnings}"
    outcomes = normrules.examples.run_examples(ruleset)
    assert outcomes, f"{doc}:{line}: a complete example ruleset should include at least one `example` block"
    failures = [
        f"{o.name}: {m.name} expected {m.expected}, {m.engine} gave {m.actual}"
        for o in outcomes
        for m in o.mismatches
    ]
    assert not failures, f"{doc}:{line}:\n" + "\n".join(failures)


def test_every_keyword_is_documented():
    text = LANGUAGE.read_text("utf-8")
    missing = [k for k in normrules.parse.KEYWORDS if not re.search(rf"`{re.escape(k)}`", text)]
    assert not missing, f"keywords not documented in docs/language.md: {missing}"


def _grammar_keywords(grammar: str) -> set[str]:
    """Alphabetic string literals ("word") of the grammar, outside comments and terminal regexps."""
    words: set[str] = set()
    for raw in grammar.splitlines():
        line = raw.strip()
        if not line or line.startswith("//") or line.startswith("%"):
            continue
        line = re.sub(r"/(?:[^/\\\n]|\\.)+/", " ", line)     # drop /regexp/ patterns
        words.update(w for w in re.findall(r'"([^"\\\n]*)"', line) if w.isalpha())
    return words


def _unit_regex_keyword_lists(grammar: str) -> list[set[str]]:
    m = re.search(r"^UNIT[.\d]*:\s*/(.*)/\s*$", grammar, re.M)
    assert m, "no UNIT terminal in normrules.lark"
    lists = re.findall(r"\(\?:((?:[A-Za-z_]+\|)+[A-Za-z_]+)\)", m.group(1))
    assert lists, "no keyword alternation inside the UNIT regex"
    return [set(alt.split("|")) for alt in lists]


def test_unit_regex_keywords_equal_grammar_keywords():
    grammar = GRAMMAR.read_text("utf-8")
    keywords = _grammar_keywords(grammar)
    assert {"ruleset", "require", "otherwise", "zh", "inf"} <= keywords
    for i, listed in enumerate(_unit_regex_keyword_lists(grammar)):
        assert listed == keywords, (
            f"UNIT regex keyword list #{i + 1} differs from the grammar's keywords: "
            f"missing {sorted(keywords - listed)}, extra {sorted(listed - keywords)}"
        )


def test_parse_keywords_equal_grammar_keywords():
    assert set(normrules.parse.KEYWORDS) == _grammar_keywords(GRAMMAR.read_text("utf-8"))


def test_category_table_lists_the_whole_taxonomy():
    text = LANGUAGE.read_text("utf-8")
    data = json.loads(TAXONOMY.read_text("utf-8"))
    ids = []
    for cat in data["categories"]:
        ids.append(cat["id"])
        ids.extend(f"{cat['id']}.{sub['id']}" for sub in cat["subcategories"])
    missing = [i for i in ids if f"| `{i}` |" not in text]
    assert not missing, f"categories missing from the table in docs/language.md: {missing}"


def test_fragments_are_not_tagged_normrules():
    """Complete rulesets start with a header; a ```normrules block without one is a fragment."""
    for doc, line, text in BLOCKS:
        body = "\n".join(l for l in text.splitlines() if not l.strip().startswith("#")).lstrip()
        assert body.startswith("ruleset "), f"{doc}:{line}: a ```normrules block must be a complete ruleset"
