"""The language conformance suite in grammar/conformance/.

* ``valid/*.nr`` compile without diagnostics and every example in them passes (executor and
  reference interpreter).
* ``invalid/NNN_name.nr`` fail to compile; the first line of each rendered diagnostic
  (``file:line:col: error[CODE]: message``, what ``normrules check`` prints) equals the lines of
  ``invalid/NNN_name.expected``, in order. Files are compiled under their path relative to the repo
  root, so the expected lines do not depend on where the tests run.
* Every error class (code) of the compiler has a hand-written assertion below of its full message
  and help text; a meta-test checks that no code is left without one.
* Snapshots (tests/__snapshots__/test_conformance/) hold the full rendered output of the whole
  invalid suite and the ``check --format json`` data of a few files.

Note on E401: graph.py takes the cycle from ``nx.find_cycle`` on a subgraph view, which walks the
component's node *set* when the component is less than half of the graph, so the order of the
cycle text can change with PYTHONHASHSEED. The cycle files here keep every cycle at least half of
its graph so that their messages are stable; keep it that way when editing them.

Imports: an invalid file is compiled with the shipped ``rulesets/`` as its ruleset roots, unless
``OPTIONS`` below gives it others (``invalid/imports/``, rulesets written for the suite), a
reporting date (``as_of``, which picks the revision of an import without a version) or no import
loader at all (``normrules.api.compile_module(module)``). Tables read CSV files relative to the
ruleset's name, so the tests run in the repository root. Rendered diagnostics name files of
imported rulesets by absolute path; the snapshots hold them relative to the repository root.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from normrules.api import compile_module, compile_text
from normrules.errors import CheckFailed, Diagnostic, SourceMap, diagnostics_json, render_diagnostic
from normrules.examples import run_examples
from normrules.parse import parse

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "grammar" / "conformance"
VALID = sorted((SUITE / "valid").glob("*.nr"))
INVALID = sorted((SUITE / "invalid").glob("*.nr"))
COMPILER_SOURCES = [ROOT / "src" / "normrules" / f
                    for f in ("parse.py", "resolve.py", "imports.py", "check.py", "check_collections.py", "check_examples.py",
                              "graph.py")]
IMPORTS = SUITE / "invalid" / "imports"
SHIPPED = ROOT / "rulesets"

# How an invalid file is compiled when not with the defaults (roots: the shipped rulesets/).
OPTIONS: dict[str, dict] = {
    "065_import_without_roots": {"loader": False},
    "069_unknown_ruleset": {"roots": [IMPORTS], "as_of": "2018-06-30"},
    "070_import_cycle": {"roots": [IMPORTS]},
    "071_broken_import": {"roots": [IMPORTS]},
}

# Codes the compiler has but no ruleset can make it report today; each has a strict xfail below
# that turns into a failure once the code is reported, so that this set is kept up to date.
UNREACHABLE: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    """Table files (`rows from "x.csv"`) are found relative to the ruleset's (relative) name."""
    monkeypatch.chdir(ROOT)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class JsonTextSnapshot(SingleFileSnapshotExtension):
    """The exact text of ``diagnostics_json`` (what ``normrules check --format json`` prints)."""

    _write_mode = WriteMode.TEXT
    file_extension = "json"


def _compile(path: Path, options: dict | None = None):
    options = options or {}
    text = path.read_text("utf-8")
    if options.get("loader") is False:
        sources = SourceMap()
        return compile_module(parse(text, _rel(path), sources), None, sources)
    return compile_text(text, _rel(path), roots=options.get("roots", [SHIPPED]), as_of=options.get("as_of"))


@lru_cache(maxsize=None)
def _failure(name: str) -> CheckFailed:
    path = SUITE / "invalid" / f"{name}.nr"
    try:
        _compile(path, OPTIONS.get(name))
    except CheckFailed as exc:
        return exc
    raise AssertionError(f"{_rel(path)} compiled, but it is in the invalid suite")


def _portable(text: str) -> str:
    """Rendered diagnostics with the repository's absolute path taken out."""
    return text.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")


def _diags(name: str) -> tuple[Diagnostic, ...]:
    return _failure(name).diagnostics


def _diag(name: str, code: str, index: int = 0) -> Diagnostic:
    """The ``index``-th diagnostic with ``code`` of invalid file ``name``."""
    found = [d for d in _diags(name) if d.code == code]
    assert len(found) > index, f"{name}: {[(d.code, d.message) for d in _diags(name)]}"
    return found[index]


def _at(d: Diagnostic) -> tuple[int, int]:
    return d.span.line, d.span.col


# ---------------------------------------------------------------------------- suite shape


def test_suite_shape():
    assert len(VALID) >= 14
    assert len(INVALID) >= 85
    names = {p.stem for p in INVALID}
    expected = {p.stem for p in (SUITE / "invalid").glob("*.expected")}
    assert names == expected, "every invalid .nr needs a .expected beside it, and no .expected is stray"
    assert all(re.fullmatch(r"\d{3}_[a-z0-9_]+", n) for n in names)
    multi = [p for p in INVALID if len(p.with_suffix(".expected").read_text("utf-8").splitlines()) > 1]
    assert len(multi) >= 4, "several files must prove that `check` reports every error in one run"


def _codes_in_compiler() -> set[str]:
    text = "\n".join(p.read_text("utf-8") for p in COMPILER_SOURCES)
    return set(re.findall(r'(?:Diagnostic|error|warn)\(\s*"([EW]\d{3})"', text))


def test_every_compiler_code_is_in_the_invalid_suite():
    codes = _codes_in_compiler()
    assert len(codes) >= 80, codes  # the regex above still finds the codes
    assert {"E209", "E218", "E330", "E353", "E515", "W410"} <= codes
    covered = set()
    for p in INVALID:
        covered |= set(re.findall(r"\b(?:error|warning)\[([EW]\d{3})\]", p.with_suffix(".expected").read_text("utf-8")))
    assert codes - covered == set(UNREACHABLE)
    assert set(UNREACHABLE) <= codes, "a code listed as unreachable is gone from the compiler"


def test_every_compiler_code_has_a_hand_written_assertion():
    source = Path(__file__).read_text("utf-8")
    asserted = set(re.findall(r'_diag\("[^"]+", "([EW]\d{3})"', source))
    assert _codes_in_compiler() - asserted == set()


# ---------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_file_compiles_and_its_examples_pass(path: Path):
    rs = _compile(path)
    assert rs.warnings == ()
    outcomes = run_examples(rs)
    assert outcomes, f"{_rel(path)} has no examples"
    failed = {o.name: o.mismatches for o in outcomes if not o.passed}
    assert failed == {}


def test_valid_suite_uses_every_construct_of_the_grammar():
    """Every alternative with an alias (``-> name``) and every named token of the grammar occurs in
    the parse trees of the valid files."""
    from normrules.parse import _parser, grammar_text

    grammar = grammar_text()
    aliases = set(re.findall(r"->\s*(\w+)", grammar))
    terminals = set(re.findall(r"^([A-Z_]+)(?:\.\d+)?\s*:", grammar, re.M)) - {"COMMENT"}
    rules, tokens = set(), set()
    for path in VALID:
        tree = _parser().parse(path.read_text("utf-8"))
        rules |= {str(t.data) for t in tree.iter_subtrees()}
        tokens |= {t.type for t in tree.scan_values(lambda v: hasattr(v, "type"))}
    assert len(aliases) > 30 and aliases - rules == set()
    assert terminals - tokens == set()


# ---------------------------------------------------------------------------- invalid files


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_file_gives_exactly_the_expected_diagnostics(path: Path):
    exc = _failure(path.stem)
    actual = [render_diagnostic(d, exc.sources).splitlines()[0] for d in exc.diagnostics]
    expected = path.with_suffix(".expected").read_text("utf-8").splitlines()
    assert actual == expected
    # the same lines are what `normrules check` prints (str(exc) is its text output)
    printed = str(exc)
    assert all(line in printed.splitlines() for line in expected)
    assert all(line.startswith(_rel(path) + ":") for line in expected)


def test_the_whole_invalid_suite_rendered(snapshot):
    parts = []
    for path in INVALID:
        parts.append(f"==== {_rel(path)}\n{_portable(str(_failure(path.stem)))}\n")
    assert "\n".join(parts) == snapshot(extension_class=TextSnapshot)


@pytest.mark.parametrize("name", ["020_unknown_names", "046_result_label_twice", "047_cycles", "060_errors_in_every_phase",
                                  "072_overrides"])
def test_json_diagnostics(name, snapshot):
    text = diagnostics_json(_diags(name))
    data = json.loads(text)
    assert [(d["code"], d["line"], d["column"]) for d in data] == [(d.code, *_at(d)) for d in _diags(name)]
    assert all(d["file"] == f"grammar/conformance/invalid/{name}.nr" for d in data)
    assert text == snapshot(extension_class=JsonTextSnapshot)


# ---------------------------------------------------------------------------- E1xx syntax


def test_e101_unknown_header_field_suggests_the_field():
    d = _diag("001_unknown_header_field", "E101")
    assert _at(d) == (3, 3)
    assert d.message == ("unexpected `titel`; expected `category`, `document`, `effective`, `issuer`, `published`, "
                         "`}`, `status`, `supersedes`, …")
    assert d.help == "did you mean `title`?"


def test_e101_condition_without_require():
    d = _diag("002_missing_require", "E101")
    assert _at(d) == (13, 36)
    assert d.message == ("unexpected `energy`; expected the end of the file, `applies`, `clause`, `entity`, `example`, "
                         "`import`, `input`, `judge`, …")
    assert d.help == "a rule needs `require <condition>`; write the condition after `require`"


def test_e101_single_equals():
    d = _diag("003_single_equals", "E101")
    assert _at(d) == (14, 16)
    assert d.message == ("unexpected `=`; expected the end of the file, `+` or `-`, `and`, `applies`, `clause`, "
                         "a comparison, `.`, `entity`, …")
    assert d.help == "comparison for equality is written `==`"


def test_e101_missing_comma_in_given():
    d = _diag("004_given_missing_comma", "E101")
    assert _at(d) == (18, 9)
    assert d.message == "unexpected `co2`; expected `+` or `-`, `and`, `child`, `,`, a comparison, `expect`, `in`, `is`, …"
    assert d.help == "values in `given`/`expect` are separated by commas"


def test_e101_bad_character():
    d = _diag("005_bad_character", "E101")
    assert _at(d) == (13, 31)
    assert d.message == ("unexpected character `≤`; expected `+` or `-`, `and`, `applies`, `child`, `clause`, `column`, "
                         "`,`, a comparison, …")
    assert d.help == "write `<=` instead of `≤`"


def test_e101_unexpected_end_of_file_points_after_the_last_token():
    d = _diag("006_unexpected_eof", "E101")
    assert _at(d) == (14, 20)  # `  require energy <=` is 19 characters long
    assert d.message == ("the file ends too early; expected `case`, a date, `false`, `(`, `-`, a name, a number, "
                         "a quoted string, …")
    assert d.help is None


def test_e101_if_and_case_without_else():
    d = _diag("007_if_without_else", "E101")
    assert d.message == "unexpected `end`; expected `else`"
    assert d.help == "an `if` needs both `then` and `else`"
    d = _diag("008_case_without_else", "E101")
    assert d.message == "unexpected `end`; expected `else`, `when`"
    assert d.help == "a `case` ends with `else <value> end`"


def test_e101_input_type():
    d = _diag("009_input_missing_colon", "E101")
    assert d.message == "unexpected `tce/yr`; expected `:`, `.`"
    assert d.help == "a declaration's type follows a colon: `input park.energy : tce/yr`"
    d = _diag("010_input_bad_type", "E101")
    assert d.message == 'unexpected `"tce/yr"`; expected `boolean`, `text`, a unit, `number`, `date`'
    assert d.help == ("an input needs a type after the colon: a unit (`t CO2/yr`), `percent`, `number`, `boolean`, "
                      "`text {…}` or `date`")


def test_e101_several_syntax_errors_in_one_run():
    diags = _diags("011_several_syntax_errors")
    assert [(d.code, _at(d)) for d in diags] == [("E101", (15, 18)), ("E101", (20, 41)), ("E101", (23, 33))]
    assert [d.help for d in diags] == [
        "comparison for equality is written `==`",
        "an `if` needs both `then` and `else`",
        "values in `given`/`expect` are separated by commas",
    ]


def test_e101_glob_outside_a_call():
    d = _diag("048_glob_in_expression", "E101")
    assert d.message == "unexpected `*`; expected a name"
    assert d.help == "a rule pattern like `core.*` is only allowed inside all(…) or any(…)"


def test_e102_duplicate_rule_clause():
    d = _diag("012_duplicate_rule_clause", "E102")
    assert _at(d) == (15, 3)
    assert d.message == "rule `core.energy` has more than one `require`"
    assert d.help == "keep one `require` clause"
    d = _diag("012_duplicate_rule_clause", "E102", 1)
    assert d.message == "rule `core.severity` has more than one `severity`"
    assert d.help == "keep one `severity` clause"


# ---------------------------------------------------------------------------- E2xx names


def test_e201_no_entity():
    d = _diag("013_no_entity", "E201")
    assert d.message == "the ruleset declares no entity"
    assert d.help == 'add e.g. `entity park "园区"` before the inputs'


def test_e202_second_entity():
    d = _diag("014_second_entity", "E202")
    assert d.message == ("a second top-level entity `firm`: a ruleset is about one kind of entity "
                         "(declare others as children with `of`)")
    assert d.help is None
    assert [(n.span.line, n.message) for n in d.notes] == [(9, "the first entity")]


def test_e203_unknown_entity():
    d = _diag("015_unknown_entity", "E203")
    assert d.message == "unknown entity `prak`"
    assert d.help == "did you mean `park`?"
    d = _diag("015_unknown_entity", "E203", 1)
    assert d.message == "unknown entity `firm`"
    assert d.help == "the entity is `park`"


def test_e204_declared_twice():
    d = _diag("016_declared_twice", "E204")
    assert d.message == "`energy` is declared twice"
    assert d.help is None
    assert [(n.span.line, n.span.col, n.message) for n in d.notes] == [(11, 7, "first declared here")]
    d = _diag("062_result_declared_twice", "E204")  # used to crash the checker
    assert d.message == "`size` is declared twice"
    assert _at(d) == (16, 8)


def test_e205_rule_without_require():
    d = _diag("017_rule_without_require", "E205")
    assert d.message == "rule `core.energy` has no `require`"
    assert d.help == "add `require <condition>` saying what the rule demands"


def test_e206_unknown_severity():
    d = _diag("018_unknown_severity", "E206")
    assert d.message == "unknown severity `mandatroy`"
    assert d.help == "did you mean `mandatory`?"
    d = _diag("018_unknown_severity", "E206", 1)
    assert d.message == "unknown severity `optional`"
    assert d.help == "severity is `mandatory` or `guidance`"


def test_e207_glob_matches_nothing():
    d = _diag("019_glob_matches_nothing", "E207")
    assert d.message == "`cor.*` matches no rule"
    assert d.help == "did you mean `core`?"
    d = _diag("019_glob_matches_nothing", "E207", 1)
    assert d.message == "`extra.*` matches no rule"
    assert d.help == "rule ids are written `group.name`"


def test_e208_unknown_names_with_suggestions():
    d = _diag("020_unknown_names", "E208")
    assert (_at(d), d.message, d.help) == ((14, 23), "unknown name `enrgy`", "did you mean `energy`?")
    assert [(d.message, d.help) for d in _diags("020_unknown_names")] == [
        ("unknown name `enrgy`", "did you mean `energy`?"),
        ("unknown name `park.energie`", "did you mean `park.energy`?"),
        ("unknown name `limit`", "declare it with `input` or `let`"),
        ("unknown name `core.intensty`", "did you mean `core.intensity`?"),
        ("unknown name `energi`", "did you mean `energy`?"),
    ]


# ---------------------------------------------------------------------------- E209–E218 child entities and imports


def test_e209_grandchild_entity_and_e203_unknown_parent():
    d = _diag("064_child_entities", "E209")
    assert _at(d) == (11, 1)
    assert d.message == "`cell` is a child of `line`, itself a child: language v1 has one level of child entities"
    assert d.help is None
    d = _diag("064_child_entities", "E203")
    assert _at(d) == (12, 1)
    assert (d.message, d.help) == ("unknown entity `modul`", "did you mean `module`?")


def test_e210_import_without_an_import_loader():
    d = _diag("065_import_without_roots", "E210")
    assert _at(d) == (11, 8)  # the ruleset id
    assert d.message == "cannot import `iec.pv_module_cfp` here"
    assert d.help == "imports are resolved from ruleset roots when compiling from a file"


def test_e211_override_of_an_alias_not_imported():
    d = _diag("066_override_without_import", "E211")
    assert _at(d) == (13, 10)
    assert (d.message, d.help) == ("`prc` is not an imported ruleset", "did you mean `pcr`?")
    d = _diag("066_override_without_import", "E211", 1)
    assert d.message == "`national` is not an imported ruleset"
    assert d.help == "write `import <ruleset id> as <alias>` first"


def test_e212_import_about_another_entity():
    d = _diag("067_import_other_entity", "E212")
    assert _at(d) == (11, 1)
    assert d.message == "`iec.pv_module_cfp` is about `module`, this ruleset about `park`"
    assert d.help == "an imported ruleset is evaluated on the same entities: declare `entity module`"


def test_e213_unknown_table():
    d = _diag("068_unknown_table", "E213")
    assert _at(d) == (20, 31)
    assert (d.message, d.help) == ("unknown table `gwp10`", "did you mean `gwp100`?")
    d = _diag("068_unknown_table", "E213", 1)
    assert (d.message, d.help) == ("unknown table `factors`", "declare it with `table`")


def test_e214_unknown_ruleset_version_or_revision_in_force():
    d = _diag("069_unknown_ruleset", "E214")
    assert _at(d) == (12, 8)
    assert d.message == "no ruleset `fixture.limts` in the ruleset roots; did you mean `fixture.limits`?"
    assert d.help == f"ruleset roots: {IMPORTS}"
    d = _diag("069_unknown_ruleset", "E214", 1)
    assert d.message == '`fixture.limits` has no version "2020" (versions: 2019, 2024, 2026)'
    d = _diag("069_unknown_ruleset", "E214", 2)
    assert d.message == ("no final revision of `fixture.limits` is in force on 2018-06-30 (revisions: 2019 final "
                         "effective 2019-01-01, 2024 final effective 2025-01-01, 2026 draft effective 2026-01-01)")


def test_e215_import_cycle():
    d = _diag("070_import_cycle", "E215")
    assert d.message == "import cycle: bad.import_cycle → cycle.a → cycle.b → cycle.a"
    assert _at(d) == (11, 1)
    assert d.help is None


def test_e216_imported_ruleset_does_not_compile():
    d = _diag("071_broken_import", "E216")
    assert _at(d) == (11, 1)
    assert d.message == "the imported ruleset `fixture.broken` does not compile"
    assert d.help is None
    assert [(n.span.file, n.span.line, n.message) for n in d.notes] == [
        (str(IMPORTS / "broken.nr"), 14, "unknown name `enrgy`"),
        (str(IMPORTS / "broken.nr"), 16, "cannot compare tce/yr with t CO2/yr"),
    ]


def test_e217_e218_overrides():
    d = _diag("072_overrides", "E217")
    assert _at(d) == (18, 10)
    assert d.message == "`gb.zero_carbon_park` has no param `core_limit_mediun` to override"
    assert d.help == "did you mean `core_limit_medium`?"
    d = _diag("072_overrides", "E217", 1)
    assert d.message == "`gb.zero_carbon_park` has no param `clean_share` to override"
    assert d.help == "its params: core_limit_medium, core_limit_large"
    d = _diag("072_overrides", "E218")
    assert _at(d) == (19, 38)  # the value
    assert (d.message, d.help) == ("an override is a literal value", None)
    # an override in the wrong unit is the imported param's own error, at the override's value
    d = _diag("072_overrides", "E324")
    assert _at(d) == (22, 35)
    assert d.message == "`core_limit_large` is declared in t CO2/tce but its value is in t CO2/t"


def test_w410_an_override_that_loosens_an_imported_limit():
    w = _diag("072_overrides", "W410")
    assert w.severity == "warning"
    assert _at(w) == (21, 1)
    assert w.message == ("the override loosens `gb.zero_carbon_park`'s limit `core_limit_medium`: "
                         "0.2 t CO2/tce → 0.25 t CO2/tce")
    assert w.help == "an override normally tightens an imported limit"
    assert str(_failure("072_overrides")).endswith("4 errors, 1 warning")


@pytest.mark.parametrize("as_of,version,limit", [
    ("2018-12-31", None, None),               # no final revision in force yet
    ("2019-01-01", "2019", 0.3),
    ("2024-12-31", "2019", 0.3),
    ("2025-01-01", "2024", 0.2),              # the 2024 revision takes effect
    ("2030-01-01", "2024", 0.2),              # 2026 is a draft: never chosen without a version
])
def test_an_import_without_a_version_takes_the_final_revision_in_force_on_as_of(as_of, version, limit):
    text = ('ruleset t.imports {\n title "t"\n document "x"\n version "1"\n status final\n}\n'
            'import fixture.limits as lim\n'
            'rule local.ok require lim.core.intensity\n')
    if version is None:
        with pytest.raises(CheckFailed) as exc:
            compile_text(text, "t.nr", roots=[IMPORTS], as_of=as_of)
        assert "E214" in [d.code for d in exc.value.diagnostics]
        return
    rs = compile_text(text, "t.nr", roots=[IMPORTS], as_of=as_of)
    (alias, imported), = rs.checked.imports
    assert (alias, imported.checked.version) == ("lim", version)
    param = imported.checked.params[0]
    assert param.expr.value / param.type.unit.factor == pytest.approx(limit)
    # an explicit version is taken whatever the date, drafts too
    pinned = compile_text(text.replace("fixture.limits as", 'fixture.limits@"2026" as'), "t.nr",
                          roots=[IMPORTS], as_of=as_of)
    assert dict(pinned.checked.imports)["lim"].checked.version == "2026"


# ---------------------------------------------------------------------------- E3xx units and types


def test_e301_unknown_unit():
    d = _diag("021_unknown_unit", "E301")
    assert d.message == "unknown unit `yeer`"
    assert d.help == "did you mean `yr`?"
    d = _diag("021_unknown_unit", "E301", 1)
    assert d.message == "unknown unit `CO3`"
    assert d.help == "did you mean `CO2`?"
    d = _diag("021_unknown_unit", "E301", 2)
    assert d.message == "unknown unit `tCO2`"
    assert d.help == "did you mean `t CO2`? the factors of a unit are separated by a space"
    assert (d.span.line, d.span.col, d.span.end_col) == (16, 20, 31)  # `0.1 tCO2/yr`, the number and its unit
    d = _diag("061_rounded_with_bad_limit", "E301")
    assert d.message == "unknown unit `tec`"
    assert d.help == "did you mean `tce`?"


def test_e302_duplicate_category():
    d = _diag("022_duplicate_category", "E302")
    assert d.message == 'category "steel" is listed twice'
    assert d.help is None


def test_e303_date_precision():
    d = _diag("023_date_precision", "E303")
    assert d.message == "unknown date precision `year`"
    assert d.help == "write `date` (day precision) or `date(month)`"


def test_e304_invalid_date():
    d = _diag("024_invalid_date", "E304")
    assert d.message == "`2025-02-30` is not a valid date"
    assert d.help is None
    assert _diag("024_invalid_date", "E304", 1).message == "`2025-13` is not a valid date"


def test_e305_negate_non_number():
    d = _diag("025_negate_non_number", "E305")
    assert d.message == "cannot negate a boolean"
    assert d.help is None


def test_e306_arithmetic_on_non_numbers():
    d = _diag("026_arithmetic_non_number", "E306")
    assert d.message == "arithmetic `+` needs numbers, but this is a boolean"
    assert d.help is None
    assert _at(d) == (15, 18)  # points at the boolean operand
    d = _diag("026_arithmetic_non_number", "E306", 1)
    assert d.message == 'arithmetic `*` needs numbers, but this is a text {"steel", "cement"}'


def test_e307_adding_different_dimensions():
    d = _diag("027_add_different_units", "E307")
    assert d.message == "cannot add tce/yr and t CO2/yr"
    assert d.help == "both sides of + and - need the same dimension"
    d = _diag("027_add_different_units", "E307", 1)
    assert d.message == "cannot subtract m^2 and m"
    d = _diag("027_add_different_units", "E307", 2)
    assert d.message == "max() of tce/yr and t CO2/yr"
    assert d.help is None


def test_e308_not_a_condition():
    d = _diag("028_not_a_condition", "E308")
    assert d.message == "an applicability condition must be a condition (true/false), but this is a tce/yr"
    assert d.help == "compare it with a limit, e.g. `x >= 90 percent`"
    d = _diag("028_not_a_condition", "E308", 1)
    assert d.message == "each side of `and` must be a condition (true/false), but this is a percent"


def test_e309_percent_vs_plain_number():
    d = _diag("029_percent_vs_plain_number", "E309")
    assert d.message == "comparing a percentage with the plain number 90"
    assert d.help == "write `90 percent` (or the fraction 0.9)"
    d = _diag("058_example_wrong_type", "E309")
    assert d.message == "`share` is a percentage, but the example gives the plain number 95"
    assert d.help == "write `95 percent` (or the fraction 0.95)"


def test_e310_category_and_label_typos():
    d = _diag("030_category_typo", "E310")
    assert d.message == '"steal" is not a declared category'
    assert d.help == 'did you mean `steel`? categories: "steel", "cement", "glass"'
    assert [(d.message, d.help) for d in _diags("030_category_typo")][1:] == [
        ('"cemnt" is not a declared category', 'did you mean `cement`? categories: "steel", "cement", "glass"'),
        ('"haevy" is not a label of result `grade`', "did you mean `heavy`?"),
        ('"glas" is not a declared category of `sector`', "did you mean `glass`?"),
    ]


def test_e311_cannot_compare_units():
    d = _diag("031_compare_units", "E311")
    assert _at(d) == (18, 29)
    assert d.message == "cannot compare t CO2/tce with kg/kW"
    assert d.help == "`t CO2/tce` is [carbon_dioxide] [time]^2/[length]^2; `kg/kW` is [time]^3/[length]^2"
    assert [(x.message, x.help) for x in _diags("031_compare_units")][1:] == [
        ("cannot compare kW with t CO2/yr", "`kW` is [length]^2 [mass]/[time]^3; `t CO2/yr` is [carbon_dioxide] [mass]/[time]"),
        ("cannot compare t CO2/yr with boolean", None),
        ("cannot compare tce/yr with the plain number 100", "give the limit its unit, e.g. `100 tce/yr`"),
    ]


def test_e312_e313_e314_text_comparisons():
    d = _diag("032_text_comparisons", "E312")
    assert d.message == "text can only be compared with == or !=, not `<`"
    assert d.help is None
    d = _diag("032_text_comparisons", "E313")
    assert d.message == "comparing two text constants"
    assert d.help is None
    d = _diag("032_text_comparisons", "E314")
    assert d.message == 'cannot compare text {"steel", "cement"} with text {"north", "south"}'
    assert d.help is None


def test_e315_date_precision_mismatch():
    d = _diag("033_date_precision_mismatch", "E315")
    assert d.message == "cannot compare a date(month) with a date"
    assert d.help == "compare a month-precision date with a month like 2025-07"


def test_e316_unknown_state():
    d = _diag("034_unknown_state", "E316")
    assert _at(d) == (15, 44)  # the state word
    assert d.message == "`is passed` does not apply to a verdict"
    assert d.help == "did you mean `pass`? allowed: pass, fail, not_applicable, unknown"
    d = _diag("034_unknown_state", "E316", 1)
    assert d.message == "`is missing` does not apply to a tce/yr"
    assert d.help == "allowed: unknown, known"


def test_e317_in_set():
    d = _diag("035_in_set", "E317")
    assert d.message == "`in {…}` needs a text value, but this is a tce/yr"
    assert d.help is None
    d = _diag("035_in_set", "E317", 1)
    assert d.message == "the options of `in {…}` are quoted categories"
    assert _at(d) == (15, 43)


def test_e318_branch_types():
    d = _diag("036_branch_types", "E318")
    assert d.message == "the branches give different units: t CO2/tce and tce"
    assert d.help is None
    d = _diag("036_branch_types", "E318", 1)
    assert d.message == "the branches give different types: number and boolean"


def test_e319_unknown_function():
    d = _diag("037_unknown_function", "E319")
    assert d.message == "unknown function `maximum`"
    assert d.help == "did you mean `max`?"
    d = _diag("037_unknown_function", "E319", 1)
    assert d.message == "unknown function `sqrt`"
    assert d.help == "functions: all, any, min, max, abs, year, convert, sum, mean, count, share"


def test_e320_glob_outside_all_any():
    d = _diag("038_glob_outside_all_any", "E320")
    assert d.message == "a rule pattern like `core.*` is only allowed inside all(…) or any(…)"
    assert d.help is None


def test_e321_all_any_arguments():
    d = _diag("039_all_any_arguments", "E321")
    assert d.message == "all(…) takes rule ids or patterns like `core.*`"
    assert d.help is None
    d = _diag("039_all_any_arguments", "E321", 1)
    assert d.message == "any() needs at least one rule"


def test_e322_function_arguments():
    d = _diag("040_function_arguments", "E322")
    assert d.message == "abs() takes one argument"
    assert d.help is None
    assert [x.message for x in _diags("040_function_arguments")][1:] == [
        "min() takes two or more arguments",
        "max() needs numbers, but this is a boolean",
    ]


def test_e323_rounding_without_precision():
    d = _diag("041_rounding_without_precision", "E323")
    assert d.message == "cannot tell the limit's stated precision for rounded-value judgement"
    assert d.help == "write the limit as a number with a unit, or `judge rounded to 0.01 t CO2/tce`"


def test_rounded_judgement_with_a_bad_limit_is_reported_not_a_crash():
    assert [(d.code, d.message) for d in _diags("061_rounded_with_bad_limit")] == [
        ("E208", "unknown name `limt`"),
        ("E301", "unknown unit `tec`"),
    ]


def test_e324_let_declared_unit_mismatch():
    d = _diag("042_let_declared_unit_mismatch", "E324")
    assert d.message == "`intensity` is declared in t CO2/tce but its formula gives t yr CO2/tce"
    assert d.help == ("t CO2/tce is [carbon_dioxide] [time]^2/[length]^2; "
                      "t yr CO2/tce is [carbon_dioxide] [time]^3/[length]^2")
    d = _diag("042_let_declared_unit_mismatch", "E324", 1)
    assert d.message == "`ok` is declared as boolean but its formula gives a tce/yr"
    assert d.help is None


def test_e325_unknown_judgement():
    d = _diag("043_unknown_judgement", "E325")
    assert d.message == "unknown judgement method `round`"
    assert d.help == ("did you mean `rounded`? GB/T 8170-2008: `judge full` (full-value, the default) "
                      "or `judge rounded` (rounded-value)")


def test_e326_range_on_non_number():
    d = _diag("044_range_on_non_number", "E326")
    assert d.message == "a range needs a number input, but `certified` is boolean"
    assert d.help is None


def test_e327_bad_ranges():
    d = _diag("045_bad_ranges", "E327")
    assert d.message == "the range [100, 0] is empty: its low end is above its high end"
    assert d.help is None
    d = _diag("045_bad_ranges", "E327", 1)
    assert d.message == "an infinite end of a range is open: write `[0, inf)`"


def test_e328_result_label_twice_and_w401_unreachable_branch():
    d = _diag("046_result_label_twice", "E328")
    assert d.message == 'result label "big" is used twice'
    assert d.help is None
    assert [(n.span.line, n.message) for n in d.notes] == [(14, "first used here")]
    w = _diag("046_result_label_twice", "W401")
    assert w.severity == "warning"
    assert w.message == 'branch "none" can never be reached: it comes after `otherwise`'
    assert w.help is None
    assert str(_failure("046_result_label_twice")).endswith("1 error, 1 warning")


# ---------------------------------------------------------------------------- E330–E353 tables, aggregates, params


def test_e330_e331_e332_e333_e334_table_declarations():
    d = _diag("073_table_declarations", "E330")
    assert _at(d) == (14, 7)  # the table's name
    assert (d.message, d.help) == ("table `no_key` has no `key`", "declare e.g. `key gas : text`")
    d = _diag("073_table_declarations", "E331")
    assert (d.message, d.help) == ("table `no_rows` has no rows", 'add `row …` lines or `rows from "file.csv"`')
    d = _diag("073_table_declarations", "E332")
    assert (_at(d), d.span.end_col) == ((26, 7), 20)  # the row's values: `"N2O", 265, 1`
    assert d.message == "a row of `gwp` has 3 value(s); the table has 2 fields (gas, value)"
    assert d.help is None
    assert _diag("073_table_declarations", "E332", 1).message == ("a row of `gwp` has 1 value(s); the table has 2 "
                                                                 "fields (gas, value)")
    d = _diag("073_table_declarations", "E333")
    assert _at(d) == (27, 7)  # the second row with the key
    assert (d.message, d.help) == ("table `gwp` has two rows for key (CH4)", None)
    d = _diag("073_table_declarations", "E334")
    assert _at(d) == (33, 13)
    assert d.message == "table cells are literals: numbers, quoted text, true/false or dates"
    assert d.help is None
    assert _at(_diag("073_table_declarations", "E334", 1)) == (34, 13)  # `1 + 1`


def test_e335_e336_e337_e338_table_files():
    d = _diag("074_table_files", "E335")
    assert _at(d) == (15, 3)  # the `rows from` clause
    assert d.message == "`../valid/13_grid_factors.csv` is outside the ruleset's directory"
    assert d.help == "a ruleset reads table files only from its own directory and below"
    d = _diag("074_table_files", "E336")
    assert (d.message, d.help) == ("no table file `074_no_such_file.csv` beside the ruleset", None)
    d = _diag("074_table_files", "E337")
    assert (d.message, d.help) == ("`074_missing_column.csv` lacks column(s) factor", "columns present: year, value")
    d = _diag("074_table_files", "E338")
    assert _at(d) == (30, 3)
    assert d.message == "`n/a` in column `factor` of 074_not_a_number.csv line 3 is not a number"
    assert d.help is None


def test_e339_table_cells_of_the_wrong_type():
    assert [(x.code, _at(x), x.message) for x in _diags("075_table_cells")] == [
        ("E339", (17, 15), "column `ncv` of `fuels` holds numbers in GJ/t"),
        ("E339", (18, 14), "column `ncv` of `fuels` is in GJ/t, not GJ/m^3"),
        ("E339", (18, 25), "column `liquid` of `fuels` holds true/false"),
        ("E304", (18, 28), "`2020-02-30` is not a valid date"),
        ("E310", (19, 7), '"oil" is not a declared category of `fuels.fuel`'),
        ("E301", (19, 14), "unknown unit `tt`"),
    ]
    d = _diag("075_table_cells", "E339")
    assert d.help is None


def test_e340_e341_e342_e343_lookups():
    d = _diag("076_lookups", "E340")
    assert _at(d) == (29, 40)  # the column name
    assert (d.message, d.help) == ("table `gwp` has no column `valu`", "did you mean `value`?")
    d = _diag("076_lookups", "E340", 1)
    assert (d.message, d.help) == ("table `gwp` has no column `factor`", "columns: value")
    d = _diag("076_lookups", "E341")
    assert _at(d) == (31, 24)  # the whole lookup
    assert d.message == "`latest` needs a table with one number or date key; `gwp` has 2 key(s)"
    assert d.help is None
    assert _diag("076_lookups", "E341", 1).message == "`latest >=` — write `latest <= x` or `latest < x`"
    d = _diag("076_lookups", "E342")
    assert (d.message, d.help) == ("table `gwp` is keyed by 2 value(s) (edition, gas), not 1", None)
    assert _diag("076_lookups", "E342", 1).message == "table `grid` is keyed by 1 value(s) (year), not 2"
    d = _diag("076_lookups", "E343")
    assert _at(d) == (35, 28)  # the key
    assert (d.message, d.help) == ("key `edition` of `gwp` is text, not t/yr", None)
    assert [x.message for x in _diags("076_lookups") if x.code == "E343"][1:] == [
        'key `year` of `grid` is number, not text {"CH4", "N2O"}',
        "key `year` of `grid` is number, not date(month)",
    ]
    d = _diag("076_lookups", "E310")
    assert _at(d) == (38, 28)
    assert (d.message, d.help) == ('"AR4" is not a key of `gwp`', "did you mean `AR6`?")


def test_e344_e346_aggregate_arguments():
    d = _diag("077_aggregate_arguments", "E344")
    assert _at(d) == (18, 21)  # the call
    assert d.message == "sum(…) takes one argument: a child value, optionally `… where <condition>`"
    assert d.help is None
    assert _diag("077_aggregate_arguments", "E344", 1).message.startswith("count(…) takes one argument")
    # max(a, b) with two arguments is the maximum of two values, not an aggregate
    assert [(x.code, _at(x)) for x in _diags("077_aggregate_arguments") if _at(x)[0] == 20] == [
        ("E350", (20, 25)), ("E349", (20, 53))]
    d = _diag("077_aggregate_arguments", "E346")
    assert _at(d) == (21, 31)  # the argument
    assert d.message == "count(…) counts rows: write `count(line)` or `count(line where …)`"
    assert d.help is None
    assert [x.message for x in _diags("077_aggregate_arguments") if x.code == "E346"][1:] == [
        "sum(…) needs a value of `line`, not the entity itself",
        "sum(…) needs numbers, but this is a boolean",
        'mean(…) needs numbers, but this is a text {"glass", "cell"}',
    ]


def test_e345_aggregate_over_no_child_rows():
    d = _diag("078_aggregate_without_children", "E345")
    assert _at(d) == (18, 31)  # the argument
    assert d.message == "sum(…) aggregates the child rows of `module`, but this argument reads none"
    assert d.help == "children of `module`: line, packaging"
    d = _diag("079_aggregate_no_child_entity", "E345")
    assert d.message == "sum(…) aggregates the child rows of `park`, but this argument reads none"
    assert d.help == "`park` has no child entity: declare one with `entity line of park`"


def test_e347_aggregate_defaults():
    d = _diag("080_aggregate_defaults", "E347")
    assert _at(d) == (18, 39)  # the default
    assert (d.message, d.help) == ("an aggregate's default is a literal", None)
    assert [x.message for x in _diags("080_aggregate_defaults")][1:] == [
        "the default of sum(…) must be in kg, not m",
        "the default of any(…) must be a boolean",
        "`default` belongs to an aggregate over child rows",
    ]


def test_e348_e349_e350_entity_contexts():
    d = _diag("081_entity_contexts", "E348")
    assert _at(d) == (18, 25)
    assert (d.message, d.help) == ("`line` is an entity; use it inside count(line)", None)
    d = _diag("081_entity_contexts", "E349")
    assert _at(d) == (19, 21)
    assert d.message == "`mass` is a value of each `line` row; aggregate it here"
    assert d.help == "e.g. sum(mass), max(mass) or count(line)"
    d = _diag("081_entity_contexts", "E349", 1)
    assert (d.message, d.help) == ("`weight` belongs to `packaging`, not to `line`", None)
    d = _diag("081_entity_contexts", "E350")
    assert _at(d) == (21, 24)  # `power where power > 0 W`
    assert d.message == "`where` filters the rows of an aggregate, e.g. sum(x where y > 0)"
    assert d.help is None


def test_e354_child_verdicts_in_a_parent_result():
    d = _diag("087_child_verdicts_in_parent", "E354")
    assert d.message == "`bom.light` is judged on each `line` row, not on `module`"
    assert d.help == "aggregate the rows: e.g. all(bom.light is pass) or any(bom.light is fail)"


def test_e351_params_are_literals():
    d = _diag("082_params", "E351")
    assert _at(d) == (13, 20)
    assert d.message == "param `a` must be a literal value"
    assert d.help == "a computed value is a `let`"
    assert [(x.code, x.message) for x in _diags("082_params")][1:] == [
        ("E351", "param `b` must be a literal value"),
        ("E324", "`c` is declared in tce/yr but its value is in t CO2/yr"),
        ("E324", "`d` is declared as boolean but its value is a number"),
        ("E310", '"AR4" is not a declared category'),
    ]


def test_e352_text_input_without_categories():
    d = _diag("083_text_input_categories", "E352")
    assert _at(d) == (11, 21)  # the type
    assert d.message == 'text input `gas` needs its categories: `text {"a", "b"}`'
    assert d.help == "a value outside the declared categories is then caught when data is read"


def test_e353_convert():
    d = _diag("084_convert", "E353")
    assert _at(d) == (18, 23)
    assert (d.message, d.help) == ("convert(quantity, unit, target unit) takes three arguments", None)
    assert [(x.code, _at(x), x.message) for x in _diags("084_convert")][1:] == [
        ("E353", (19, 31), "convert(…) takes a plain number, not kg"),
        ("E353", (20, 36), "convert(…) needs unit names as text, not boolean"),
        ("E301", (21, 36), 'category "bag of 25 kg" is not a unit: unknown unit `of`'),
    ]


# ---------------------------------------------------------------------------- E4xx graph


def test_e401_cycles_name_every_member():
    d = _diag("047_cycles", "E401")
    assert _at(d) == (11, 5)
    assert d.message == "circular definition: a → c → b → a"
    assert d.help == "a value, rule or result cannot depend on itself; break the cycle"
    assert [(n.span.line, n.message) for n in d.notes] == [
        (11, "`a` (value) is part of the cycle"),
        (13, "`c` (value) is part of the cycle"),
        (12, "`b` (value) is part of the cycle"),
    ]
    d = _diag("047_cycles", "E401", 1)
    assert d.message == "circular definition: self_ref → self_ref"
    d = _diag("063_rule_value_cycle", "E401")
    assert d.message == "circular definition: core.loop → flag → core.loop"  # starts at the first declared member
    assert {n.message for n in d.notes} == {"`flag` (value) is part of the cycle", "`core.loop` (rule) is part of the cycle"}
    d = _diag("086_cycle_through_children", "E401")
    assert _at(d) == (12, 5)
    assert d.message == "circular definition: total → share_of_total → total"


# ---------------------------------------------------------------------------- E5xx header and examples


def test_e501_header_field_twice():
    d = _diag("049_header_field_twice", "E501")
    assert d.message == "header field `version` is given twice"
    assert d.help is None
    assert [(n.span.line, n.message) for n in d.notes] == [(5, "first given here")]


def test_e502_unknown_status():
    d = _diag("050_unknown_status", "E502")
    assert d.message == "unknown status `finale`"
    assert d.help == ("did you mean `final`? status is `draft` (征求意见稿) or `final` (正式/已发布); "
                      "`superseded` follows from a later final revision and is never written by hand")


def test_e503_invalid_header_date():
    d = _diag("051_invalid_header_date", "E503")
    assert d.message == "`published` needs a date like 2025-07-08 or a month like 2025-07, not `2025-13`"
    assert d.help is None
    assert _diag("051_invalid_header_date", "E503", 1).message == ("`effective` needs a date like 2025-07-08 or a month "
                                                                  "like 2025-07, not `2025-02-30`")


def test_e504_unknown_category():
    d = _diag("052_unknown_category", "E504")
    assert d.message == "`management_evaluation.low_carbon_evalution` is not a category of the MIIT standards taxonomy"
    assert d.help == "did you mean `management_evaluation.low_carbon_evaluation`?"
    d = _diag("055_header_all_wrong", "E504")
    assert d.help == ("categories are written `category.subcategory`, e.g. "
                      "`management_evaluation.low_carbon_evaluation`; see docs/language.md")


def test_e505_missing_header_fields():
    d = _diag("053_missing_header_fields", "E505")
    assert d.message == "the ruleset header lacks `document`, `status`"
    assert d.help is None


def test_e506_effective_before_published():
    d = _diag("054_effective_before_published", "E506")
    assert d.message == "the effective date is before the publication date"
    assert d.help is None
    assert [(n.span.line, n.message) for n in d.notes] == [(7, "published here")]


def test_every_header_problem_in_one_run():
    # diagnostics come in source order
    assert [d.code for d in _diags("055_header_all_wrong")] == ["E505", "E201", "E501", "E502", "E503", "E504"]


def test_e511_bad_expectations():
    d = _diag("056_example_bad_expectations", "E511")
    assert d.message == "`core.energy` is a rule: expect pass, fail, not_applicable or unknown"
    assert d.help is None
    d = _diag("056_example_bad_expectations", "E511", 1)
    assert d.message == '`size` is a result: expect one of "small", "large" or unknown'
    assert d.help == "did you mean `small`?"


def test_e512_example_not_literal():
    d = _diag("057_example_not_literal", "E512")
    assert d.message == "example values are literals (a number with its unit, a quoted category, true/false, a date)"
    assert d.help is None


def test_e513_example_wrong_type():
    d = _diag("058_example_wrong_type", "E513")
    assert d.message == "`energy` is in tce/yr, but the example gives t CO2/yr"
    assert d.help is None
    assert [x.message for x in _diags("058_example_wrong_type") if x.code == "E513"][1:] == [
        "`certified` is a boolean, but the example gives a number",
        "`opened` is a date(month), but the example gives a date",
    ]


def test_e514_given_not_an_input():
    d = _diag("059_example_given_not_input", "E514")
    assert d.message == "`double` is a value, not an input: `given` sets inputs only"
    assert d.help is None
    assert [x.message for x in _diags("059_example_given_not_input")][1:] == [
        "`core.energy` is a rule, not an input: `given` sets inputs only",
        "`size` is a result, not an input: `given` sets inputs only",
    ]


def test_e515_example_child_rows():
    d = _diag("085_example_child_rows", "E515")
    assert _at(d) == (20, 9)  # the entity name after `child`
    assert (d.message, d.help) == ("`lines` is not a child entity", "did you mean `line`?")
    d = _diag("085_example_child_rows", "E515", 1)
    assert (d.message, d.help) == ("`module` is not a child entity", None)
    assert [(_at(x), x.message) for x in _diags("085_example_child_rows") if x.code == "E514"] == [
        ((22, 16), "`double` is not an input of `line`"),
        ((23, 16), "`power` is not an input of `line`"),
    ]


def test_errors_of_every_phase_in_one_run():
    assert [(d.code, d.message) for d in _diags("060_errors_in_every_phase")] == [
        ("E208", "unknown name `enrgy`"),
        ("E311", "cannot compare t CO2/tce with kg/kW"),
        ("E310", '"cemnet" is not a declared category'),
        ("E206", "unknown severity `guidence`"),
        ("E309", "comparing a percentage with the plain number 90"),
        ("E513", "`energy` is in tce/yr, but the example gives t CO2/yr"),
    ]
