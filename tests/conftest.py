"""Shared test configuration: Hypothesis profiles.

* ``ci`` (the default, and whenever ``CI`` is set): derandomized, so every run explores the same
  examples and a failure reproduces; no deadline (CI machines are slow and noisy); ~150 examples.
* ``dev``: random exploration with many more examples, for hunting bugs locally.

``HYPOTHESIS_PROFILE=dev pytest …`` picks a profile explicitly and wins over ``CI``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=1500, print_blob=True)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")
