"""Shared pytest configuration: hypothesis profiles.

Select a profile with the environment variable HYPOTHESIS_PROFILE:

- ``ci`` (default): deterministic (derandomize, no example database), a modest number of examples,
  no deadline (the first call of an editable install may rebuild the extension);
- ``dev``: many more random examples, with the example database, for hunting bugs locally.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=30,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=500,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
