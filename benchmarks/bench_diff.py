#!/usr/bin/env python
"""Benchmark: the semantic diff of two generated 1 000-rule revisions.

Run by hand (not collected by pytest)::

    .venv/bin/python benchmarks/bench_diff.py [--rules 1000] [--repeat 3] [--budget 1.0]

The generator (seeded) writes an "old" ruleset with 100 inputs, 20 band limits (``let … = case
when … end``), ``--rules`` rules (an applicability condition and a limit each, every tenth one
judged against a band limit) and a result over ``all(r.*)``, then a "new" revision in which
about 30 % of the rules change: limits moved (some written in another unit), comparisons made
strict, applicability thresholds moved, severities and titles edited, rules renamed with and
without changes, rules removed and added, and two band limits tightened.

It reports, apart: compiling both revisions (parse, check, graph, plan — ``normrules.loads``),
then the best of ``--repeat`` runs of ``normrules.diff.diff(old, new)`` (matching, comparison,
flip intervals, dependency-graph impact), and the text rendering. Exit status 1 when the diff is
slower than ``--budget`` seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import normrules  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
import normrules  # noqa: E402
from normrules.diff import Insert, Move, Remove, Update, diff  # noqa: E402

HEADER = """ruleset bench.diff {
  title "基准" en "Benchmark (generated)"
  document "generated"
  version "%s"
  status draft
}

entity site "站点" key id
"""


def generate(n_rules: int, seed: int = 7) -> tuple[str, str, dict]:
    rnd = random.Random(seed)
    n_inputs, n_bands = 100, 20
    old, new = [HEADER % "1"], [HEADER % "2"]
    for i in range(n_inputs):
        line = f'input site.x{i} : t/yr in [0, inf) "输入 {i}" en "Input {i}"\n'
        old.append(line)
        new.append(line)
    for b in range(n_bands):
        lo, hi = 0.2 + b / 100, 0.3 + b / 100
        text = (f"let site.band{b} : t/yr = case when x{b} >= 100 t/yr then {hi:.2f} t/yr "
                f"when x{b} >= 50 t/yr then {lo + 0.05:.2f} t/yr else {lo:.2f} t/yr end\n")
        old.append(text)
        if b % 10 == 0:      # tightened band limit
            text = text.replace(f"then {hi:.2f} t/yr", f"then {hi - 0.02:.2f} t/yr")
        new.append(text)
    stats = {"threshold": 0, "unit": 0, "strict": 0, "applies": 0, "doc": 0, "rename": 0, "rename+change": 0,
             "removed": 0, "added": 0}
    for i in range(n_rules):
        q, a = f"x{i % n_inputs}", f"x{(i * 7 + 3) % n_inputs}"
        limit = f"band{i % n_bands}" if i % 10 == 0 else f"{rnd.randint(10, 900)} t/yr"
        scope = rnd.randint(1, 50)
        title = f'"规则 {i}" en "Rule {i} on {q}"'
        rule = (f'rule r.c{i} {title} clause "{i // 50 + 1}.{i % 50 + 1}" severity mandatory\n'
                f"  applies when {a} >= {scope} t/yr\n  require {q} <= {limit}\n")
        old.append(rule)
        roll = rnd.random()
        if i % 10 == 0 or roll >= 0.30:
            new.append(rule)
            continue
        value = int(limit.split()[0])
        if roll < 0.10:
            stats["threshold"] += 1
            rule = rule.replace(f"<= {limit}", f"<= {value + rnd.choice([-5, 5, 20])} t/yr")
        elif roll < 0.12:
            stats["unit"] += 1        # the same limit in kg: no change
            rule = rule.replace(f"<= {limit}", f"<= {value * 1000} kg/yr")
        elif roll < 0.16:
            stats["strict"] += 1
            rule = rule.replace("<=", "<")
        elif roll < 0.19:
            stats["applies"] += 1
            rule = rule.replace(f">= {scope} t/yr", f">= {scope + 5} t/yr")
        elif roll < 0.22:
            stats["doc"] += 1
            rule = rule.replace("severity mandatory", "severity guidance").replace(f'"Rule {i} on', f'"Rule {i} (revised) on')
        elif roll < 0.25:
            stats["rename"] += 1
            rule = rule.replace(f"rule r.c{i} ", f"rule r.renamed{i} ")
        elif roll < 0.26:
            stats["rename+change"] += 1
            rule = rule.replace(f"rule r.c{i} ", f"rule r.renamed{i} ").replace(f"<= {limit}", f"<= {value + 1} t/yr")
        elif roll < 0.28:
            stats["removed"] += 1
            continue
        else:
            stats["added"] += 1
            rule = (f'rule r.new{i} "新规则 {i}" en "New rule {i}" clause "9.{i}" severity guidance\n'
                    f"  require x{(i * 13) % n_inputs} >= {rnd.randint(1, 99)} t/yr\n")
        new.append(rule)
    result = 'result site.status "结论" { "met" when all(r.*) "not met" otherwise }\n'
    old.append(result)
    new.append(result)
    return "".join(old), "".join(new), stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds allowed for one diff (default 1.0)")
    args = ap.parse_args(argv)

    old_text, new_text, stats = generate(args.rules)
    t0 = time.perf_counter()
    old = normrules.loads(old_text, "old.nr")
    t1 = time.perf_counter()
    new = normrules.loads(new_text, "new.nr")
    t2 = time.perf_counter()

    best, d = float("inf"), None
    for _ in range(args.repeat):
        t = time.perf_counter()
        d = diff(old, new)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    text = d.to_text()
    render = time.perf_counter() - t

    counts = {name: sum(isinstance(e, cls) and e.kind == "rule" for e in d.edits)
              for name, cls in (("updated", Update), ("renamed", Move), ("added", Insert), ("removed", Remove))}
    flips = sum(len(c.flips) for e in d.changes for c in getattr(e, "changes", ()))
    print(f"generated: {len(old.checked.rules)} old rules, {len(new.checked.rules)} new rules; edits made: "
          + ", ".join(f"{k} {v}" for k, v in stats.items()) + ", band limits tightened 2")
    print(f"compile (parse+check+graph+plan): old {t1 - t0:.3f} s, new {t2 - t1:.3f} s (not part of the diff figure)")
    print(f"diff found: rules " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; {len(d.changes)} edits in all, {flips} flip intervals, text report {len(text.splitlines())} lines")
    print(f"diff (best of {args.repeat}): {best:.3f} s   [budget {args.budget:.1f} s: {'OK' if best <= args.budget else 'OVER'}]")
    print(f"text rendering: {render:.3f} s")
    return 0 if best <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
