"""normrules: a declarative rules engine and standards language for carbon standards.

Public API::

    rs = normrules.load("rulesets/gb/zero_carbon_park.nr")   # parse, resolve, check, graph, plan
    ev = rs.evaluate(table)        # pandas DataFrame, pyarrow Table or dict of arrays
    ev.to_arrow(); ev.counts(); ev.verdicts("core.intensity")
"""

from .api import Evaluation, Ruleset, compile_text, find_rulesets, load, loads
from .errors import CheckFailed, DataError, Diagnostic, NormrulesError, RulesetNotFound, Span
from .embed import InputError, evaluate_one, schema
from .embed import explain as _explain_one
from .ir import compile_cached, load_ir
from .pact import to_pact, write_pact

__version__ = "0.1.0"


class _ExplainEntry:
    """``normrules.explain(ruleset, row_or_table, key)`` (:func:`normrules.embed.explain`), which also
    reads as the :mod:`normrules.explain` module (``normrules.explain.Explainer``)."""

    def __init__(self, func, module):
        import functools

        functools.update_wrapper(self, func)
        self._module = module

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._module, name)


explain = _ExplainEntry(_explain_one, __import__("sys").modules[__name__ + ".explain"])

__all__ = [
    "load", "loads", "compile_text", "find_rulesets", "Ruleset", "Evaluation",
    "NormrulesError", "CheckFailed", "DataError", "RulesetNotFound", "Diagnostic", "Span", "__version__",
    "evaluate_one", "explain", "schema", "InputError", "load_ir", "compile_cached", "to_pact", "write_pact",
]
