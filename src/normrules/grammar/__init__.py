"""Package data: the ruleset grammar ``normrules.lark``."""
