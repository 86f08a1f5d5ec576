"""Where the documentation lives: the one place to change it.

The HTML representation of the estimators (in notebooks) links the class
name to its API page, built by Sphinx from ``docs/api.rst`` into
``generated/<module>.<Class>.html``.
"""

#: Root of the published HTML documentation (the output of
#: ``python -m sphinx docs docs/_build/html``). Not published yet: this is the
#: address it is planned to have; change it here when it is known.
DOCS_URL = "https://skexpreg.readthedocs.io/en/latest"

#: scikit-learn's ``_doc_link_template`` for skexpreg's estimators: filled in
#: with the public module (``skexpreg``) and the class name.
API_PAGE_TEMPLATE = DOCS_URL + "/generated/{estimator_module}.{estimator_name}.html"
