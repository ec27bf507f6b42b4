"""The MIIT catalogue of industrial carbon-peak/neutrality standards, and which rulesets encode them.

The catalogue is annex 1 of the MIIT *Guide to building the industrial carbon-peak/neutrality
standards system (2023, draft)* — 工业领域碳达峰碳中和现行和在研标准项目清单, seed 004 — shipped as
``normrules/data/miit_catalogue.json``: every listed standard with its number, plan number, title,
status (``published`` / ``drafting`` / ``revising``) and place in the MIIT taxonomy.

A shipped ruleset *encodes* a catalogued standard when its ``document`` header names the standard's
number or its plan number (compared ignoring spaces, case, full-width forms and dash variants:
``GB/T 32150—2015`` matches ``GB/T 32150-2015``).

    normrules catalog                                   every standard, with the rulesets encoding it
    normrules catalog --category monitoring             one category (or ``category.subcategory``)
    normrules catalog --status revising --format json
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import click

from .errors import NormrulesError, did_you_mean
from .resolve import taxonomy

STATUSES = ("published", "drafting", "revising")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−－"), "-")
_DOCUMENT_RE = re.compile(r'^\s*document\s+"((?:[^"\\]|\\.)*)"', re.MULTILINE)
_ID_RE = re.compile(r"^\s*ruleset\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_VERSION_RE = re.compile(r'^\s*version\s+"((?:[^"\\]|\\.)*)"', re.MULTILINE)


@dataclass(frozen=True)
class Standard:
    """One row of the catalogue."""

    id: str                    # "<section>.<seq>" as numbered in the annex, e.g. "2.1"
    number: str | None         # "GB/T 32150-2015"; None for a standard still being drafted
    plan: str | None           # plan number, e.g. "20220807-T-467"; None for a published standard
    title: str
    status: str                # published | drafting | revising
    status_zh: str             # 已发布 | 制定中 | 修订中, as printed
    category: str              # "category.subcategory" of the MIIT taxonomy
    position_zh: str           # the annex's 体系位置 cell
    seed_line: int
    number_note: str | None = None

    @property
    def identifiers(self) -> tuple[str, ...]:
        return tuple(x for x in (self.number, self.plan) if x)


@dataclass(frozen=True)
class RulesetRef:
    """A shipped ruleset, as far as the catalogue needs it: id, version, ``document`` header, file."""

    id: str
    version: str
    document: str
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files("normrules.data").joinpath("miit_catalogue.json").read_text("utf-8")
    return json.loads(text)


def catalogue() -> tuple[Standard, ...]:
    """Every standard of annex 1, in the annex's order."""
    fields = set(Standard.__dataclass_fields__)
    return tuple(Standard(**{k: v for k, v in row.items() if k in fields}) for row in _data()["standards"])


def catalogue_source() -> dict:
    """Where the catalogue comes from (document, seed, lines) and how its statuses were mapped."""
    data = _data()
    return {"source": data["source"], "status_mapping": data["status_mapping"], "notes": data["notes"]}


def normalize_number(text: str) -> str:
    """A document number in a comparable form: NFKC, no whitespace, upper case, ASCII dashes."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return re.sub(r"\s+", "", text).upper()


# --------------------------------------------------------------------------- rulesets


def repo_root() -> Path:
    """The source checkout this package lives in (``src/normrules`` → the repository)."""
    return Path(__file__).resolve().parents[2]


def default_ruleset_dirs(cwd: Path | None = None) -> list[Path]:
    """``rulesets/`` under the current directory and under the package's repository, those that exist."""
    out: list[Path] = []
    for base in (cwd or Path.cwd(), repo_root()):
        d = base / "rulesets"
        if d.is_dir() and all(d.resolve() != o.resolve() for o in out):
            out.append(d)
    return out


def _read_header(path: Path) -> RulesetRef | None:
    """The id, version and document of a ruleset file; None when it has no readable header."""
    text = path.read_text("utf-8", errors="replace")
    try:
        from .parse import parse

        header = parse(text, str(path)).header
        document = header.get("document")
        version = header.get("version")
        if document is None:
            return None
        return RulesetRef(header.id, str(version.value) if version else "", str(document.value), path)
    except Exception:  # a ruleset with syntax errors: fall back to reading the header lines
        doc, rid, ver = _DOCUMENT_RE.search(text), _ID_RE.search(text), _VERSION_RE.search(text)
        if not (doc and rid):
            return None
        return RulesetRef(rid.group(1), ver.group(1) if ver else "", doc.group(1), path)


def shipped_rulesets(dirs: Iterable[Path] | None = None) -> list[RulesetRef]:
    """Every ``.nr`` file under ``dirs`` (default: :func:`default_ruleset_dirs`) with its header."""
    seen, out = set(), []
    for d in (default_ruleset_dirs() if dirs is None else dirs):
        d = Path(d)
        files = [d] if d.is_file() else sorted(f for f in d.rglob("*.nr") if not f.name.endswith(".examples.nr"))
        for f in files:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            ref = _read_header(f)
            if ref is not None:
                out.append(ref)
    return out


def encodings(standards: Iterable[Standard], rulesets: Iterable[RulesetRef]) -> dict[str, list[RulesetRef]]:
    """Catalogue id → the rulesets whose ``document`` names the standard's number or plan number."""
    by_number: dict[str, list[RulesetRef]] = {}
    for rs in rulesets:
        by_number.setdefault(normalize_number(rs.document), []).append(rs)
    out: dict[str, list[RulesetRef]] = {}
    for std in standards:
        hits = [rs for ident in std.identifiers for rs in by_number.get(normalize_number(ident), [])]
        if hits:
            out[std.id] = sorted(set(hits), key=lambda r: (r.id, r.version))
    return out


def select(standards: Iterable[Standard], category: str | None = None, status: str | None = None) -> list[Standard]:
    """Standards in ``category`` (a category id, or ``category.subcategory``) with ``status``."""
    out = []
    for std in standards:
        if category and not (std.category == category or std.category.startswith(category + ".")):
            continue
        if status and std.status != status:
            continue
        out.append(std)
    return out


# --------------------------------------------------------------------------- command


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check_category(ctx, param, value):
    if value is None:
        return value
    tax = taxonomy()
    if value not in tax:
        hint = did_you_mean(value, tax)
        raise click.BadParameter(
            f"`{value}` is not a category of the MIIT taxonomy" + (f"; {hint}" if hint else "")
            + " (a category id such as `monitoring`, or `category.subcategory`)")
    return value


@click.command("catalog")
@click.option("--category", "category", callback=_check_category, metavar="ID",
              help="Only this category or sub-category of the MIIT taxonomy, e.g. `monitoring` or "
                   "`accounting_verification.ghg_accounting`.")
@click.option("--status", "status", type=click.Choice(STATUSES),
              help="Only standards with this status: published (已发布), drafting (制定中), revising (修订中).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per standard; json: the records with the rulesets encoding each.")
@click.option("--rulesets", "ruleset_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Look for rulesets here (repeatable) instead of rulesets/ under the current "
                   "directory and the package's repository.")
def catalog_command(category, status, fmt, ruleset_dirs):
    """List the MIIT catalogue of industrial carbon standards and the rulesets that encode them.

    The catalogue is annex 1 (现行和在研标准项目清单) of the MIIT standards-system guide (2023,
    draft): each standard's number or plan number, status, place in the taxonomy and title. A
    ruleset encodes a standard when its `document` header names the standard's number or plan
    number.

    \b
    Example:
      normrules catalog --category monitoring
      normrules catalog --status revising --format json
    """
    try:
        standards = catalogue()
    except (OSError, ValueError) as exc:  # pragma: no cover - a broken installation
        raise NormrulesError(f"cannot read the catalogue: {exc}") from exc
    rulesets = shipped_rulesets(ruleset_dirs or None)
    encoded = encodings(standards, rulesets)
    chosen = select(standards, category, status)

    if fmt == "json":
        records = []
        for std in chosen:
            rec = asdict(std)
            rec["rulesets"] = [{"id": r.id, "version": r.version, "document": r.document,
                                "path": _shown_path(r.path)} for r in encoded.get(std.id, [])]
            records.append(rec)
        click.echo(json.dumps({"count": len(records), "total": len(standards),
                               "filters": {"category": category, "status": status},
                               "source": catalogue_source()["source"], "standards": records},
                              ensure_ascii=False, indent=2))
        return

    width = max((len(_identifier(s)) for s in chosen), default=0)
    cat_width = max((len(s.category) for s in chosen), default=0)
    for std in chosen:
        click.echo(f"{std.id:<6} {_identifier(std):<{width}}  {std.status:<9}  {std.category:<{cat_width}}  {std.title}")
        for r in encoded.get(std.id, []):
            click.echo(f"{'':<6} {'':<{width}}  encoded by {r.ref} ({_shown_path(r.path)})")
    n_encoded = sum(1 for s in chosen if s.id in encoded)
    filters = ", ".join(f for f in (category and f"category {category}", status and f"status {status}") if f)
    click.echo(f"\n{len(chosen)} of {len(standards)} standards" + (f" ({filters})" if filters else "")
               + f"; {n_encoded} encoded by a ruleset ({len(rulesets)} rulesets searched)")


def _identifier(std: Standard) -> str:
    if std.number and std.plan:
        return f"{std.number} (plan {std.plan})"
    return std.number or std.plan or "-"


__all__ = ["Standard", "RulesetRef", "catalogue", "catalogue_source", "normalize_number", "shipped_rulesets",
           "default_ruleset_dirs", "encodings", "select", "catalog_command"]
