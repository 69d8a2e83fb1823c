"""HR's acceptance scenarios in the repository's test run.

The step library and the scenario bindings live with the features (`features/acceptance.py`),
because they ship in the wheel: `merit test` and the service's acceptance gate run that file.
Importing it here binds the same scenarios, steps and fixtures into this test module.
"""

from features.acceptance import *  # noqa: F403
