"""Write the intersphinx inventories the docs link against, without a network.

Each inventory lists only the objects the skexpreg docs refer to, with their
locations in the published documentation of that project. Run it after
referring to a new numpy/scipy/scikit-learn/joblib object:

    python docs/_inventories/make_inventories.py
"""

import zlib
from pathlib import Path

OBJECTS = {
    "numpy": {
        "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html"),
    },
    "scipy": {
        "scipy.sparse.linalg.eigsh": (
            "py:function",
            "reference/generated/scipy.sparse.linalg.eigsh.html",
        ),
        "scipy.sparse.linalg.LinearOperator": (
            "py:class",
            "reference/generated/scipy.sparse.linalg.LinearOperator.html",
        ),
        "scipy.optimize.minimize": (
            "py:function",
            "reference/generated/scipy.optimize.minimize.html",
        ),
    },
    "sklearn": {
        name: ("py:class", f"modules/generated/{name}.html")
        for name in [
            "sklearn.neural_network.MLPRegressor",
            "sklearn.kernel_ridge.KernelRidge",
            "sklearn.linear_model.Ridge",
            "sklearn.linear_model.RidgeCV",
            "sklearn.pipeline.Pipeline",
            "sklearn.model_selection.GridSearchCV",
            "sklearn.preprocessing.StandardScaler",
            "sklearn.exceptions.ConvergenceWarning",
        ]
    },
    "joblib": {
        "joblib.parallel_config": ("py:class", "generated/joblib.parallel_config.html"),
    },
}


def write(project, objects, path):
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(
        f"{name} {role} 1 {uri}#$ -\n" for name, (role, uri) in sorted(objects.items())
    )
    path.write_bytes(header.encode() + zlib.compress(body.encode()))


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for project, objects in OBJECTS.items():
        write(project, objects, here / f"{project}.inv")
