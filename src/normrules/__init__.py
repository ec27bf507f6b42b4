"""normrules: a declarative rules engine and standards language for carbon standards.

Public API::

    rs = normrules.load("rulesets/gb/zero_carbon_park.nr")   # parse, resolve, check, graph, plan
    ev = rs.evaluate(table)        # pandas DataFrame, pyarrow Table or dict of arrays
    ev.to_arrow(); ev.counts(); ev.verdicts("core.intensity")
"""

from .api import Evaluation, Ruleset, compile_text, find_rulesets, load, loads
from .errors import CheckFailed, DataError, Diagnostic, NormrulesError, RulesetNotFound, Span

__version__ = "0.1.0"

__all__ = [
    "load", "loads", "compile_text", "find_rulesets", "Ruleset", "Evaluation",
    "NormrulesError", "CheckFailed", "DataError", "RulesetNotFound", "Diagnostic", "Span", "__version__",
]
