"""ecr-ci tests (a package, so that `tests.testbed` can never resolve to another installed `tests`)."""
