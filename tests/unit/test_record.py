"""Records (:mod:`ecr_ci._record`) behave as the dataclasses they replace: the same class body gives the same
construction, repr (secrets left out), equality, hash, immutability, and the same view through :mod:`dataclasses`."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timezone
from typing import Any

import pytest

from ecr_ci import _record, errors, models, settings
from ecr_ci.core import cache, identity
from ecr_ci.core import flow as login


def declare(decorator: Any, field: Any, frozen: bool) -> Any:
    """One class body, under ``@dataclass`` or ``@record``."""

    @decorator(frozen=frozen)
    class Point:
        """A point with a secret."""

        x: int
        y: int | None = None
        secret: str = field(default="hidden", repr=False)
        tags: list[str] = field(default_factory=list)
        note: str = field(default="", compare=False)

    return Point


def outcome(call: Any) -> Any:
    """What ``call()`` gives: its repr, or the class of the exception it raises."""
    try:
        return repr(call())
    except Exception as e:
        return type(e)


@pytest.mark.parametrize("frozen", [True, False])
def test_a_record_behaves_as_the_dataclass_with_the_same_body(frozen):
    D = declare(dataclasses.dataclass, dataclasses.field, frozen)
    R = declare(_record.record, _record.field, frozen)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1,), {}),
        ((1, 2, "s", ["a"], "n"), {}),
        ((), {"x": 1, "note": "n", "tags": ["b"]}),
        ((1,), {"secret": "s2"}),
        ((), {}),  # x is missing
        ((1, 2, "s", [], "n", 6), {}),  # one too many
        ((1,), {"x": 2}),  # x twice
        ((1,), {"z": 3}),  # no such field
    ]
    for args, kwargs in calls:
        assert outcome(lambda: R(*args, **kwargs)) == outcome(lambda: D(*args, **kwargs)), (args, kwargs)

    d, r = D(1, tags=["a"], note="n"), R(1, tags=["a"], note="n")
    assert "hidden" not in repr(r)
    assert (r == R(1, tags=["a"], note="other"), r == R(2), r == d) == (True, False, False)  # note is not compared
    assert (d == D(1, tags=["a"], note="other"), d == D(2)) == (True, False)
    assert R(1).tags is not R(1).tags  # a fresh list from the factory each time
    assert outcome(lambda: hash(r) == hash(R(1, tags=["a"]))) == outcome(lambda: hash(d) == hash(D(1, tags=["a"])))
    assert (R.__hash__ is None) == (D.__hash__ is None) == (not frozen)
    assert outcome(lambda: setattr(r, "x", 5)) == outcome(lambda: setattr(d, "x", 5))
    assert outcome(lambda: setattr(r, "other", 5)) == outcome(lambda: setattr(d, "other", 5))
    assert outcome(lambda: delattr(r, "y")) == outcome(lambda: delattr(d, "y"))
    assert R.__match_args__ == D.__match_args__
    assert (R.secret, hasattr(R, "tags")) == (D.secret, hasattr(D, "tags"))  # defaults live on the class

    # What the dataclasses module sees.
    assert dataclasses.is_dataclass(R) and dataclasses.is_dataclass(r)
    shape = [(f.name, f.type, f.default, f.default_factory, f.repr, f.compare) for f in dataclasses.fields(R)]
    assert shape == [(f.name, f.type, f.default, f.default_factory, f.repr, f.compare) for f in dataclasses.fields(D)]
    assert R.__dataclass_params__.frozen == frozen
    assert dataclasses.asdict(r) == dataclasses.asdict(d)
    assert dataclasses.astuple(r) == dataclasses.astuple(d)
    assert repr(dataclasses.replace(r, y=7)) == repr(dataclasses.replace(d, y=7))
    assert _record.replace(r, y=7) == dataclasses.replace(r, y=7)


def test_declaration_mistakes_fail_as_with_dataclass():
    for decorator, field in ((dataclasses.dataclass, dataclasses.field), (_record.record, _record.field)):
        with pytest.raises(TypeError):

            @decorator
            class DefaultFirst:
                a: int = 1
                b: int

        with pytest.raises(ValueError):

            @decorator
            class SharedList:
                a: list[int] = []

        with pytest.raises(ValueError):
            field(default=1, default_factory=int)


def test_the_core_values_are_records_that_keep_their_secrets_out_of_repr_and_pickle():
    t = datetime(2030, 1, 1, tzinfo=timezone.utc)
    secret = "S3CRET-VALUE"
    values = [
        models.Credentials("AKIAEXAMPLE", secret, secret, t),
        models.RegistryAuth("h.example", "AWS", secret, t),
        identity.IdentityToken("gitlab", secret, "variable AWS_ID_TOKEN"),
        cache.Entry("AWS", secret, 2.0, 1.0, "role", ("aws", "us-east-1", "standard", False)),
        settings.Settings(origin={"role_arn": secret}),
        errors.Diagnostics("summary"),
        login.Plan([], "aws", "us-east-1", "sts.amazonaws.com"),
        login.Auths([], "gitlab", None, None, None),
        login.LoginResult(login.Auths([], "gitlab", None, None, None)),
        login.Obtained([], "gitlab", None, None),
        models.Registry("h.example", "us-east-1", "aws"),
    ]
    for value in values:
        assert "_record_fields" in type(value).__dict__, type(value)
        assert dataclasses.is_dataclass(value)
        assert secret not in repr(value), repr(value)
        assert pickle.loads(pickle.dumps(value)) == value
