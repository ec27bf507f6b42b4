"""Semantic diff and impact analysis between two revisions of a ruleset.

    >>> from normrules import load
    >>> from normrules.diff import diff
    >>> d = diff(load("old.nr"), load("new.nr"), data="parks.csv")   # doctest: +SKIP
    >>> print(d.to_text())                                            # doctest: +SKIP

The diff works on checked rulesets, not text: formatting, comments, declaration order and the
unit a limit is written in (``0.3 t CO2/tce`` = ``300 kg CO2/tce``) are not changes. See
``docs/diff.md`` for what is compared, the flip intervals, the impact and the JSON schema.
"""

from .edits import (Change, Edit, Flip, Insert, Interval, Keep, Move, Remove, RulesetDiff, Update,
                    edit_name)
from .impact import EntityChange, Impact, OutputChange, ResultImpact, RuleImpact, Transition, ValueImpact
from .semantic import diff

__all__ = ["diff", "RulesetDiff", "Insert", "Remove", "Update", "Move", "Keep", "Edit", "Change", "Flip",
           "Interval", "Impact", "RuleImpact", "ResultImpact", "ValueImpact", "EntityChange", "OutputChange", "Transition",
           "edit_name", "diff_command"]


def __getattr__(name):
    if name == "diff_command":   # the click command, imported on demand
        from .command import diff_command

        return diff_command
    raise AttributeError(name)
