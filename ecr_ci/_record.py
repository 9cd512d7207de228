"""Dataclass-like value classes that cost nothing to import.

The core hands out plain dataclasses (settings, registries, credentials, auths, cache entries, diagnostics), and
``docker-credential-ecr-ci get`` builds a dozen of them on every registry operation. Importing :mod:`dataclasses`
(which imports ``inspect``, ``ast``, ``dis`` and ``tokenize``) and generating the classes' methods took about a
third of a cache hit's time, so the classes on that path are declared with :func:`record` instead of ``@dataclass``.

:func:`record` reads the same class body (annotated fields, defaults, :func:`field` with ``default_factory``,
``repr=False`` or ``compare=False``) and gives what ``@dataclass`` gave: an ``__init__`` taking the fields by position
or keyword, a ``__repr__`` that leaves out the ``repr=False`` fields (secrets), an ``__eq__`` between instances of the
same class, and with ``frozen=True`` a hash and :class:`dataclasses.FrozenInstanceError` on assignment (without it,
no hash, as a dataclass has none). Its methods are shared functions rather than code generated per class, which is
where the time went.

Records remain dataclasses to whoever asks: ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass``
accept them, through a ``__dataclass_fields__`` table made (importing dataclasses) on first use from a real dataclass
with the same fields. Type checkers see them as dataclasses through ``dataclass_transform``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on a credential-helper cache hit
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        """Only type checkers read this marker; at run time it leaves the function alone."""
        return lambda function: function


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""No default: the field must be given."""


class Field:
    """One field's declaration: what :func:`dataclasses.field` records, for the options the core uses."""

    __slots__ = ("name", "type", "default", "default_factory", "repr", "compare")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None, repr: bool, compare: bool) -> None:
        self.name = ""
        self.type: object = None  # the annotation, as written (a string under ``from __future__ import annotations``)
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.default_factory is not None


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field with a default, a default factory, or left out of ``repr`` or comparisons, as
    :func:`dataclasses.field` declares it."""
    if default is not MISSING and default_factory is not None:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, repr, compare)


@dataclass_transform(field_specifiers=(field,))
def record(cls: Any = None, /, *, frozen: bool = False) -> Any:
    """Make ``cls`` a record, as ``@dataclass`` or ``@dataclass(frozen=True)`` would make it a dataclass."""
    if cls is None:
        return lambda cls_: _make(cls_, frozen)
    return _make(cls, frozen)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes``, as :func:`dataclasses.replace` makes it."""
    fields: tuple[Field, ...] = obj._record_fields  # type: ignore[attr-defined]
    return type(obj)(**{**{f.name: getattr(obj, f.name) for f in fields}, **changes})


def _make(cls: Any, frozen: bool) -> Any:
    # A record's own fields follow those of the record it derives from; a redeclared field keeps its place.
    fields = {f.name: f for f in getattr(cls, "_record_fields", ())}
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(value, None, True, True)
        f.name, f.type = name, annotation
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        fields[name] = f
        # As in a dataclass, the class attribute is the default, and there is none for a default factory.
        if isinstance(value, Field):
            if value.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, value.default)
    defaulted = False
    for f in fields.values():
        if defaulted and not f.has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        defaulted = f.has_default

    methods: dict[str, object] = {"__init__": _init, "__repr__": _repr, "__eq__": _eq}
    if frozen:
        methods |= _frozen_methods(cls, set(fields))
    methods["__hash__"] = _hash if frozen else None  # a mutable dataclass is unhashable
    for name, method in methods.items():
        if name not in cls.__dict__:  # what the class defines itself wins, as with @dataclass
            setattr(cls, name, method)
    cls._record_fields = tuple(fields.values())
    cls._record_frozen = frozen
    setattr(cls, "__match_args__", tuple(fields))  # noqa: B010 - mypy refuses the plain assignment
    cls.__dataclass_fields__ = _AsDataclass("__dataclass_fields__")
    cls.__dataclass_params__ = _AsDataclass("__dataclass_params__")
    return cls


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    fields: tuple[Field, ...] = self._record_fields
    if len(args) > len(fields):
        raise TypeError(f"{_name(self)}() takes {len(fields)} positional arguments but {len(args)} were given")
    for f, value in zip(fields[: len(args)], args, strict=True):
        if f.name in kwargs:
            raise TypeError(f"{_name(self)}() got multiple values for argument {f.name!r}")
        object.__setattr__(self, f.name, value)
    for f in fields[len(args) :]:
        if f.name in kwargs:
            value = kwargs.pop(f.name)
        elif f.default_factory is not None:
            value = f.default_factory()
        elif f.default is not MISSING:
            value = f.default
        else:
            raise TypeError(f"{_name(self)}() missing required argument: {f.name!r}")
        object.__setattr__(self, f.name, value)
    if kwargs:
        raise TypeError(f"{_name(self)}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _name(self: object) -> str:
    return f"{type(self).__qualname__}.__init__"


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._record_fields if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _compared(self: Any) -> tuple[object, ...]:
    return tuple(getattr(self, f.name) for f in self._record_fields if f.compare)


def _eq(self: object, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _hash(self: object) -> int:
    return hash(_compared(self))


def _frozen_methods(cls: type, names: set[str]) -> dict[str, object]:
    """``__setattr__`` and ``__delattr__`` refusing, as a frozen dataclass's do: any attribute of the class itself,
    the fields of a subclass."""

    def __setattr__(self: object, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            _refuse(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            _refuse(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return {"__setattr__": __setattr__, "__delattr__": __delattr__}


def _refuse(message: str) -> None:
    from dataclasses import FrozenInstanceError  # the exception callers catch; imported only when it is raised

    raise FrozenInstanceError(message)


class _AsDataclass:
    """A record's ``__dataclass_fields__`` or ``__dataclass_params__``: those of a real dataclass declared with the
    same fields, made on first use (this is where dataclasses gets imported) and then kept on the record's class."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: object, cls: Any) -> object:
        twin = cls.__dict__.get("_record_twin")
        if twin is None:
            import dataclasses

            specs = []
            for f in cls._record_fields:
                options: dict[str, Any] = {"repr": f.repr, "compare": f.compare}
                if f.default is not MISSING:
                    options["default"] = f.default
                if f.default_factory is not None:
                    options["default_factory"] = f.default_factory
                specs.append((f.name, f.type, dataclasses.field(**options)))
            twin = dataclasses.make_dataclass(cls.__name__, specs, frozen=cls._record_frozen)
            cls._record_twin = twin
        return getattr(twin, self.attribute)
