"""Test configuration.

scikit-learn's array API dispatch needs ``SCIPY_ARRAY_API=1`` in the
environment before scipy is first imported: set it here, at the top of the
first module pytest imports, so that the array API tests (and scikit-learn's
own array API estimator checks) can run. scipy releases that predate the
variable ignore it.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
