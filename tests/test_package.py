"""The package's public surface: lazy names, trusted types, links, version."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skexpreg
from skexpreg import _docs

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_are_exported_and_importable():
    for name in skexpreg.__all__:
        assert getattr(skexpreg, name) is not None
    assert "TRUSTED_TYPES" in skexpreg.__all__
    assert set(skexpreg.__all__) <= set(dir(skexpreg))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        skexpreg.nothing  # noqa: B018


def test_importing_the_package_does_not_import_scikit_learn():
    code = "import sys, skexpreg; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "params",
    [{}, {"early_stopping": True}, {"solver": "lbfgs"}, {"solver": "gd"}],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trusted_types_are_all_skops_needs_to_load_a_fitted_model(params, dtype):
    skops_io = pytest.importorskip("skops.io")
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)).astype(dtype), rng.normal(size=60)
    model = skexpreg.ExponentialRegressor(max_iter=5, random_state=0, **params)
    data = skops_io.dumps(model.fit(X, y))
    assert set(skops_io.get_untrusted_types(data=data)) <= set(skexpreg.TRUSTED_TYPES)
    loaded = skops_io.loads(data, trusted=skexpreg.TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_trusted_types_name_the_classes_where_they_live():
    assert skexpreg.TRUSTED_TYPES == [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in (skexpreg.ExponentialRegressor,)
    ]


def test_html_repr_links_to_the_api_page():
    estimator = skexpreg.ExponentialRegressor()
    link = f"{_docs.DOCS_URL}/generated/skexpreg.ExponentialRegressor.html"
    assert estimator._get_doc_link() == link
    assert link in estimator._repr_html_()


def test_the_api_page_is_generated_where_the_link_points():
    api = (ROOT / "docs" / "api.rst").read_text()
    assert re.search(r":toctree: generated/[\s\S]*?\n   ExponentialRegressor\n", api)


def test_the_version_is_defined_once():
    """setup.cfg and the docs read skexpreg.__version__; no other copy."""
    if not (ROOT / "setup.cfg").is_file():
        pytest.skip("not run from the source tree")
    assert "version = attr: skexpreg.__version__" in (ROOT / "setup.cfg").read_text()
    assert "release = skexpreg.__version__" in (ROOT / "docs/conf.py").read_text()
    copies = []
    for path in [*ROOT.glob("*.md"), *ROOT.glob("*.cfg"), *ROOT.glob("*.toml")]:
        if skexpreg.__version__ in path.read_text():
            copies.append(path.name)
    for folder in ("skexpreg", "docs"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if path.name != "__init__.py" and skexpreg.__version__ in text:
                copies.append(str(path.relative_to(ROOT)))
    assert copies == []
