"""Plain functions as invokables: ``@enact.invokable``.

The decorator generates, per function, a registered invokable class (an
``Invokable``, or an ``AsyncInvokable`` for an ``async def``) and, for a
function with parameters, a registered input resource (a dataclass with one
field per parameter, in signature order). Calling the decorated function
binds the arguments to the signature (defaults applied), checks and
normalises them, builds the input and calls the generated invokable through
the one tracked-call engine: a call inside a tracked call is a recorded
child, replayed, cached and submitted like any invokable's.

Names: the invokable's type name is ``module.qualname`` of the function (or
``name=``); its input is ``<name>.Input``, and a return value that is not a
resource nor a str/int/float/bytes/None is held by ``<name>.Output`` (one
field, ``value``). The invokable has one field, ``version``, only when
``version=`` is given (so that bumping it changes the request digest), and a
method's invokable also holds ``self``, the resource the method is called on.
"""

from __future__ import annotations

import dataclasses
import inspect
import keyword
import sys
import types
import typing
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from enact_invoke._async import AsyncInvokable
from enact_invoke._cache import Cache, cache_setting
from enact_invoke._exceptions import InvokableTypeError
from enact_invoke._invokable import Invokable, typed_invokable
from enact_invoke._records import Invocation
from enact_resource import (
    Bytes,
    Float,
    Image,
    Int,
    NoneResource,
    NPArray,
    Resource,
    ResourceBase,
    Str,
    register,
)

if TYPE_CHECKING:
    import concurrent.futures

__all__ = ["FunctionInvokable", "invokable"]

P = ParamSpec("P")
R = TypeVar("R")
_MISSING = inspect.Parameter.empty


# --- Kinds of annotation: how a value of each is checked, stored and handed back. ---


class _Mismatch(Exception):
    """A value does not fit its annotation (``where`` says which part, if nested)."""

    def __init__(self, expected: str, value: Any, where: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.where = where


class _Kind:
    """How values of one annotation are checked (``check``), stored (``field_type``)
    and given to the function (``to_call``, None when stored as given)."""

    #: The exact type a value is most often of: no check is needed for it.
    fast_type: type | None = None
    to_call: Callable[[Any], Any] | None = None
    #: The resource that holds a return value of this kind (None: an Output dataclass).
    output_type: type[ResourceBase] | None = None

    def __init__(self, text: str, field_type: Any) -> None:
        self.text = text
        self.field_type = field_type

    def check(self, value: Any) -> Any:
        """Returns the value as stored (normalised), or raises _Mismatch."""
        raise NotImplementedError

    def wrap(self, value: Any) -> ResourceBase:
        """Returns the output resource for a return value (``output_type`` kinds)."""
        assert self.output_type is not None
        return self.output_type(self.check(value))  # type: ignore[call-arg]

    def unwrap(self, output: Any) -> Any:
        """Returns what the caller gets for an output resource (``output_type`` kinds)."""
        return output


class _Str(_Kind):
    fast_type = str
    output_type = Str

    def check(self, value: Any) -> Any:
        if isinstance(value, str):  # A Str too: stored as the plain text.
            return str.__str__(value)
        raise _Mismatch("str", value)

    def unwrap(self, output: Any) -> Any:
        return str.__str__(output)


class _Int(_Kind):
    fast_type = int
    output_type = Int

    def check(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch("int", value)

    def unwrap(self, output: Any) -> Any:
        return int(output)


class _Float(_Kind):
    fast_type = float
    output_type = Float

    def check(self, value: Any) -> Any:
        # An int is a float's value too (PEP 484); it is stored as the float.
        if isinstance(value, float | int) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch("float", value)

    def unwrap(self, output: Any) -> Any:
        return float(output)


class _Bool(_Kind):
    fast_type = bool

    def check(self, value: Any) -> Any:
        if type(value) is bool:
            return value
        raise _Mismatch("bool", value)


class _Bytes(_Kind):
    fast_type = bytes
    output_type = Bytes

    def check(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return bytes(value)
        raise _Mismatch("bytes", value)

    def unwrap(self, output: Any) -> Any:
        return bytes(output)


class _None(_Kind):
    output_type = NoneResource

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        raise _Mismatch("None", value)

    def wrap(self, value: Any) -> ResourceBase:
        self.check(value)
        return NoneResource()

    def unwrap(self, output: Any) -> Any:
        return None


class _List(_Kind):
    def __init__(self, text: str, field_type: Any, item: _Kind) -> None:
        super().__init__(text, field_type)
        self.item = item
        if item.to_call is not None:
            convert = item.to_call
            self.to_call = lambda value: [convert(entry) for entry in value]

    def check(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise _Mismatch(self.text, value)
        item = self.item
        result = []
        for index, entry in enumerate(value):
            try:
                result.append(item.check(entry))
            except _Mismatch as e:
                raise _Mismatch(e.expected, e.value, f"[{index}]{e.where}") from None
        return result


class _Dict(_Kind):
    def __init__(self, text: str, field_type: Any, item: _Kind) -> None:
        super().__init__(text, field_type)
        self.item = item
        if item.to_call is not None:
            convert = item.to_call
            self.to_call = lambda value: {key: convert(entry) for key, entry in value.items()}

    def check(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise _Mismatch(self.text, value)
        item = self.item
        result = {}
        for key, entry in value.items():
            if not isinstance(key, str):
                raise _Mismatch("str (a key)", key, f"[{key!r}]")
            try:
                result[str.__str__(key)] = item.check(entry)
            except _Mismatch as e:
                raise _Mismatch(e.expected, e.value, f"[{key!r}]{e.where}") from None
        return result


class _Optional(_Kind):
    def __init__(self, text: str, field_type: Any, inner: _Kind) -> None:
        super().__init__(text, field_type)
        self.inner = inner
        if inner.to_call is not None:
            convert = inner.to_call
            self.to_call = lambda value: None if value is None else convert(value)

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.inner.check(value)
        except _Mismatch as e:
            raise _Mismatch(self.text if not e.where else e.expected, e.value, e.where) from None


class _Resource(_Kind):
    def __init__(self, text: str, field_type: Any) -> None:
        super().__init__(text, field_type)
        self.output_type = field_type

    def check(self, value: Any) -> Any:
        if isinstance(value, self.field_type):
            return value
        raise _Mismatch(self.text, value)

    def wrap(self, value: Any) -> ResourceBase:
        return self.check(value)  # type: ignore[no-any-return]


class _Media(_Kind):
    """``PIL.Image.Image`` or ``numpy.ndarray``: stored as enact.Image or enact.NPArray."""

    def __init__(self, text: str, field_type: type[ResourceBase], attribute: str) -> None:
        super().__init__(text, field_type)
        self.output_type = field_type
        self.attribute = attribute
        self.to_call = self.unwrap

    def check(self, value: Any) -> Any:
        if isinstance(value, self.field_type):
            return value
        module = type(value).__module__ or ""
        if module.split(".")[0] == ("PIL" if self.field_type is Image else "numpy"):
            try:
                return self.field_type(value)
            except Exception as e:
                raise _Mismatch(f"{self.text} that enact can store ({e})", value) from None
        raise _Mismatch(self.text, value)

    def wrap(self, value: Any) -> ResourceBase:
        return self.check(value)  # type: ignore[no-any-return]

    def unwrap(self, output: Any) -> Any:
        return getattr(output, self.attribute)


_SIMPLE: dict[Any, _Kind] = {
    str: _Str("str", str),
    int: _Int("int", int),
    float: _Float("float", float),
    bool: _Bool("bool", bool),
    bytes: _Bytes("bytes", bytes),
    None: _None("None", type(None)),
    type(None): _None("None", type(None)),
}


# Parameter names that would hide what a resource needs on its input class.
_RESERVED = frozenset(name for name in dir(Resource) if not name.startswith("__"))


class _Unsupported(Exception):
    """An annotation this decorator cannot store."""


def _kind(annotation: Any) -> _Kind:
    """The kind of an annotation; raises _Unsupported for anything not supported."""
    simple = _SIMPLE.get(annotation) if _hashable(annotation) else None
    if simple is not None:
        return simple
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        item = _kind(args[0])
        return _List(f"list[{item.text}]", list[item.field_type], item)  # type: ignore[name-defined]
    if origin is dict and len(args) == 2:
        if args[0] is not str:
            raise _Unsupported(f"dict keys must be str, not {_text(args[0])}")
        item = _kind(args[1])
        return _Dict(f"dict[str, {item.text}]", dict[str, item.field_type], item)  # type: ignore[name-defined]
    if origin in (typing.Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and len(args) == 2:
            inner = _kind(others[0])
            return _Optional(f"{inner.text} | None", inner.field_type | None, inner)
        raise _Unsupported(f"{_text(annotation)}: the only union supported is T | None")
    if isinstance(annotation, type):
        if issubclass(annotation, ResourceBase):
            return _Resource(annotation.__qualname__, annotation)
        module, name = annotation.__module__, annotation.__qualname__
        if (module, name) == ("PIL.Image", "Image"):
            return _Media("PIL.Image.Image", Image, "image")
        if (module, name) == ("numpy", "ndarray"):
            return _Media("numpy.ndarray", NPArray, "array")
    if isinstance(origin, type) and (origin.__module__, origin.__qualname__) == (
        "numpy",
        "ndarray",
    ):
        return _Media("numpy.ndarray", NPArray, "array")  # numpy.typing.NDArray[...]
    raise _Unsupported(
        f"{_text(annotation)} is not supported (use str, int, float, bool, bytes, None, "
        "list[T], dict[str, T], T | None, a registered resource type, PIL.Image.Image or "
        "numpy.ndarray)"
    )


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)


# --- The decorator. ---


class FunctionInvokable(Generic[P, R]):
    """A function made an invokable by :func:`invokable`: call it as the function.

    Inside a tracked call, a call is recorded as a child invocation and
    returns what the function returns (a ``str`` returned is stored as an
    ``enact.Str`` and handed back as the ``str``); outside any, it simply
    runs. :meth:`invoke` runs it tracked at top level and returns the
    :class:`Invocation`.

    Attributes:
        invokable_type: the generated invokable class (registered).
        input_type: the resource type of its input (the generated
            ``<name>.Input``, a resource parameter's type, or NoneResource).
        output_type: the resource type of its output.
        name: the type name of the invokable.
        version: the ``version=`` given, or None.
    """

    invokable_type: type[Invokable[Any, Any]]
    input_type: type[ResourceBase]
    output_type: type[ResourceBase]

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None,
        version: str | None,
        cache: bool | Cache | None,
        localns: dict[str, Any] | None = None,
    ) -> None:
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self._fn = fn
        self._cache = cache_setting(cache)
        self.version = version
        if version is not None and not (isinstance(version, str) and version):
            raise TypeError(f"@enact.invokable: version must be a non-empty str, got {version!r}")
        self._is_async = inspect.iscoroutinefunction(fn)
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())
        self._is_method = (
            bool(params) and params[0].name == "self" and (params[0].annotation is _MISSING)
        )
        given_name = name
        if given_name is None:
            qualname = fn.__qualname__
            if "<" in qualname:
                raise InvokableTypeError(
                    f"@enact.invokable: {qualname} is a lambda or a local function, which no "
                    "other process can find by its name: give it one, "
                    "@enact.invokable(name='module.name')"
                )
            given_name = f"{fn.__module__}.{qualname}"
        elif not (isinstance(given_name, str) and given_name.strip()):
            raise TypeError(f"@enact.invokable: name must be a non-empty str, got {given_name!r}")
        self.name = given_name
        self._params = params[1:] if self._is_method else params
        self._hints = self._resolve(fn, localns)
        self._owner: type[ResourceBase] | None = None
        self._instance: Any = None
        if not self._is_method:
            self._build()

    def _resolve(self, fn: Callable[..., Any], localns: dict[str, Any] | None) -> dict[str, Any]:
        # Names local to where the function is defined are tried too (string
        # annotations, with `from __future__ import annotations`, of a local
        # function); the module's own names win.
        try:
            return typing.get_type_hints(fn, localns=localns)
        except Exception as e:
            raise InvokableTypeError(
                f"@enact.invokable: cannot resolve the annotations of {fn.__qualname__} ({e}): "
                "annotate with types visible at module level"
            ) from e

    def _build(self) -> None:
        """Generates the input, output and invokable classes (once the method's owner is known)."""
        fn = self._fn
        where = f"@enact.invokable {fn.__qualname__}"
        kinds: list[tuple[inspect.Parameter, _Kind]] = []
        for param in self._params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise InvokableTypeError(
                    f"{where}: parameter {param.name!r} is *args or **kwargs, which have no "
                    "fixed fields to record: name each parameter"
                )
            if param.name in _RESERVED:
                raise InvokableTypeError(
                    f"{where}: parameter {param.name!r} has the name of a resource method, "
                    "which its input's field would hide: rename it"
                )
            if param.name not in self._hints:
                raise InvokableTypeError(
                    f"{where}: parameter {param.name!r} has no annotation: annotate it "
                    "(its type decides how the argument is checked and stored)"
                )
            try:
                kind = _kind(self._hints[param.name])
            except _Unsupported as e:
                raise InvokableTypeError(f"{where}: parameter {param.name!r}: {e}") from None
            if param.default is not _MISSING:
                try:
                    kind.check(param.default)
                except _Mismatch as e:
                    raise InvokableTypeError(
                        f"{where}: the default of parameter {param.name!r} is not "
                        f"{e.expected}: {e.value!r}"
                    ) from None
            kinds.append((param, kind))
        if "return" not in self._hints:
            raise InvokableTypeError(
                f"{where}: the return value has no annotation: annotate it (-> None if none)"
            )
        try:
            out_kind = _kind(self._hints["return"])
        except _Unsupported as e:
            raise InvokableTypeError(f"{where}: the return annotation: {e}") from None
        self._out_kind = out_kind
        self._kinds = kinds

        # The input: nothing, one resource parameter, or a generated dataclass.
        single = (
            len(kinds) == 1
            and isinstance(kinds[0][1], _Resource)
            and kinds[0][0].kind != inspect.Parameter.KEYWORD_ONLY
        )
        if not kinds:
            self.input_type = NoneResource
        elif single:
            self.input_type = kinds[0][1].field_type
        else:
            self.input_type = self._generated(
                "Input", [(param.name, kind.field_type) for param, kind in kinds]
            )
        # The output.
        if out_kind.output_type is not None:
            self.output_type = out_kind.output_type
            self._wrap = out_kind.wrap
            self._unwrap = out_kind.unwrap
        else:
            output_type = self._generated("Output", [("value", out_kind.field_type)])
            self.output_type = output_type
            check = out_kind.check
            to_call = out_kind.to_call

            def wrap(value: Any) -> ResourceBase:
                return output_type(check(value))  # type: ignore[call-arg]

            self._wrap = wrap
            if to_call is None:
                self._unwrap = _value
            else:
                self._unwrap = lambda output: to_call(output.value)
        self._make_input = self._input_maker(single)
        self.invokable_type = self._invokable_class()
        if not self._is_method and self.version is None:
            self._instance = self.invokable_type()  # No fields: one instance serves every call.
        elif not self._is_method:
            self._instance = self.invokable_type(version=self.version)  # type: ignore[call-arg]

    def _generated(self, suffix: str, fields: list[tuple[str, Any]]) -> type[ResourceBase]:
        fn = self._fn
        cls = dataclasses.make_dataclass(f"{fn.__name__}.{suffix}", fields, bases=(Resource,))
        cls.__module__ = fn.__module__
        cls.__qualname__ = f"{fn.__qualname__}.{suffix}"
        cls.__doc__ = f"The {suffix.lower()} of {fn.__qualname__} (made by @enact.invokable)."
        generated: type[ResourceBase] = register(name=f"{self.name}.{suffix}")(cls)
        return generated

    def _input_maker(self, single: bool) -> Callable[..., ResourceBase]:
        """Generates ``make_input(<the function's parameters>)``: Python binds the arguments
        (defaults applied), then each is checked and normalised, and the input built."""
        kinds = self._kinds
        namespace: dict[str, Any] = {
            "Input": self.input_type,
            "NONE": NoneResource(),
            "mismatch": self._argument_error,
        }
        params: list[str] = []
        body: list[str] = []
        seen_kw_only = False
        for index, (param, kind) in enumerate(kinds):
            name = param.name
            if param.kind == param.KEYWORD_ONLY and not seen_kw_only:
                params.append("*")
                seen_kw_only = True
            text = name
            if param.default is not _MISSING:
                namespace[f"d_{index}"] = param.default
                text += f"=d_{index}"
            params.append(text)
            if param.kind == param.POSITIONAL_ONLY and (
                index + 1 == len(kinds) or kinds[index + 1][0].kind != param.POSITIONAL_ONLY
            ):
                params.append("/")
            namespace[f"k_{index}"] = kind
            if kind.fast_type is not None:
                namespace[f"t_{index}"] = kind.fast_type
                body.append(
                    f"if type({name}) is not t_{index}: "
                    f"{name} = mismatch(k_{index}, {index}, {name})"
                )
            elif isinstance(kind, _Resource):
                namespace[f"t_{index}"] = kind.field_type
                body.append(
                    f"if not isinstance({name}, t_{index}): "
                    f"{name} = mismatch(k_{index}, {index}, {name})"
                )
            else:
                body.append(f"{name} = mismatch(k_{index}, {index}, {name})")
        if not kinds:
            result = "NONE"
        elif single:
            result = kinds[0][0].name
        else:
            result = "Input(" + ", ".join(param.name for param, _ in kinds) + ")"
        lines = [f"def make_input({', '.join(params)}):"]
        lines += [f"    {line}" for line in body]
        lines.append(f"    return {result}")
        _check_identifiers(param.name for param, _ in kinds)
        exec("\n".join(lines), namespace)
        make_input: Callable[..., ResourceBase] = namespace["make_input"]
        return make_input

    def _argument_error(self, kind: _Kind, index: int, value: Any) -> Any:
        """Checks an argument not of the kind's exact type: normalised, or InvokableTypeError."""
        try:
            return kind.check(value)
        except _Mismatch as e:
            name = self._kinds[index][0].name
            raise InvokableTypeError(
                f"{self.__qualname__}() argument {name!r}{e.where} must be {e.expected}, "
                f"got {type(e.value).__qualname__}: {_short(e.value)}"
            ) from None

    def _invokable_class(self) -> type[Invokable[Any, Any]]:
        """Generates the invokable class: its ``call`` unpacks the input and calls the function."""
        fn = self._fn
        kinds = self._kinds
        namespace: dict[str, Any] = {"fn": fn, "wrap": self._checked_wrap}
        args: list[str] = []
        if self._is_method:
            args.append("inv.self")
        if len(kinds) == 1 and self.input_type is kinds[0][1].field_type:
            args.append("r")  # The resource parameter is the input.
        else:
            for index, (param, kind) in enumerate(kinds):
                value = f"r.{param.name}"
                if kind.to_call is not None:
                    namespace[f"c_{index}"] = kind.to_call
                    value = f"c_{index}({value})"
                if param.kind == param.KEYWORD_ONLY:
                    value = f"{param.name}={value}"
                args.append(value)
        call_text = f"fn({', '.join(args)})"
        if self._is_async:
            source = f"async def call(inv, r):\n    return wrap(await {call_text})"
        else:
            source = f"def call(inv, r):\n    return wrap({call_text})"
        exec(source, namespace)
        call = namespace["call"]
        call.__qualname__ = f"{fn.__qualname__}.call"
        fields: list[tuple[str, Any, Any]] = []
        if self._is_method:
            fields.append(("self", self._owner, dataclasses.field()))
        if self.version is not None:
            fields.append(("version", str, dataclasses.field(default=self.version)))
        body: dict[str, Any] = {"call": call, "__doc__": fn.__doc__}
        if self._is_method:
            body["set_from"] = _set_method_state
        base: type[Any] = AsyncInvokable if self._is_async else Invokable
        cls = dataclasses.make_dataclass(fn.__name__, fields, bases=(base,), namespace=body)
        cls.__module__ = fn.__module__
        cls.__qualname__ = fn.__qualname__
        cls = typed_invokable(self.input_type, self.output_type, register=False, cache=self._cache)(
            cls
        )
        registered: type[Invokable[Any, Any]] = register(name=self.name)(cls)
        return registered

    def _checked_wrap(self, value: Any) -> ResourceBase:
        try:
            return self._wrap(value)
        except _Mismatch as e:
            raise InvokableTypeError(
                f"{self.__qualname__}() must return {self._out_kind.text}, but returned "
                f"{f'a value whose {e.where} is ' if e.where else ''}"
                f"{type(e.value).__qualname__}: {_short(e.value)}"
                + (f" (expected {e.expected})" if e.where else "")
            ) from None

    # --- Methods. ---

    def __set_name__(self, owner: type, name: str) -> None:
        if not self._is_method:
            return
        if not (isinstance(owner, type) and issubclass(owner, ResourceBase)):
            raise InvokableTypeError(
                f"@enact.invokable on method {self.__qualname__}: its class {owner.__qualname__} "
                "is not a resource (its fields are the invokable's state): make it a "
                "registered dataclass subclassing enact.Resource"
            )
        self._owner = owner
        self._build()

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> FunctionInvokable[P, R]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Any: ...
    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None or not self._is_method:
            return self
        return _BoundMethod(self, obj)

    def _invokable_for(self, obj: Any) -> Any:
        instance = self._instance
        if instance is None:
            if self._is_method:
                raise InvokableTypeError(
                    f"{self.__qualname__} takes self, so it is a method: define it in the body "
                    "of a registered resource dataclass and call it on an instance"
                )
            raise AssertionError("unbuilt FunctionInvokable")  # pragma: no cover
        return instance

    def _method_invokable(self, obj: Any) -> Any:
        if self.version is None:
            return self.invokable_type(obj)  # type: ignore[call-arg]
        return self.invokable_type(obj, self.version)  # type: ignore[call-arg]

    # --- Calling. ---

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        instance = self._instance
        if instance is None:
            instance = self._invokable_for(None)
        if self._is_async:
            return self._await(instance(self._make_input(*args, **kwargs)))  # type: ignore[return-value]
        return self._unwrap(instance(self._make_input(*args, **kwargs)))  # type: ignore[no-any-return]

    async def _await(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self._unwrap(await coroutine)

    def invoke(self, *args: P.args, **kwargs: P.kwargs) -> Invocation[Any, Any]:
        """Runs the function tracked at top level in the active store; returns the record.

        Takes the function's arguments. To replay, use :meth:`Invocation.replay`
        on the record (or ``invokable_type().invoke(..., replay_from=...)``).

        Raises:
            NoActiveStoreError: no store is active.
            InvokableTypeError: an argument does not fit its annotation.
        """
        instance = self._instance or self._invokable_for(None)
        return instance.invoke(self._make_input(*args, **kwargs))  # type: ignore[no-any-return]

    async def invoke_async(self, *args: P.args, **kwargs: P.kwargs) -> Invocation[Any, Any]:
        """Like :meth:`invoke`, awaited (an ``async def`` runs in the event loop)."""
        instance = self._instance or self._invokable_for(None)
        return await instance.invoke_async(self._make_input(*args, **kwargs))  # type: ignore[no-any-return]

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[R]:
        """Runs the call in a thread of the shared :class:`enact.ThreadPoolExecutor`.

        Inside a tracked call it is recorded as a child in the position it
        takes when submitted. Not for ``async def`` functions (use asyncio).

        Returns:
            A future of the function's return value.
        """
        instance = self._instance or self._invokable_for(None)
        future: concurrent.futures.Future[R] = _submit(
            instance.submit(self._make_input(*args, **kwargs)), self._unwrap
        )
        return future

    def __repr__(self) -> str:
        return f"<enact.invokable {self.name}>"


class _BoundMethod:
    """A decorated method bound to a resource: calls record it as the invokable's state."""

    __slots__ = ("_function", "_obj")

    def __init__(self, function: FunctionInvokable[Any, Any], obj: Any) -> None:
        self._function = function
        self._obj = obj

    def _invokable(self) -> Any:
        function = self._function
        if function._owner is None:  # pragma: no cover - __set_name__ always ran
            raise InvokableTypeError(f"{function.__qualname__} was not defined in a class body")
        return function._method_invokable(self._obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        function = self._function
        output = self._invokable()(function._make_input(*args, **kwargs))
        if function._is_async:
            return function._await(output)
        return function._unwrap(output)

    def invoke(self, *args: Any, **kwargs: Any) -> Invocation[Any, Any]:
        """See :meth:`FunctionInvokable.invoke`."""
        return self._invokable().invoke(self._function._make_input(*args, **kwargs))  # type: ignore[no-any-return]

    async def invoke_async(self, *args: Any, **kwargs: Any) -> Invocation[Any, Any]:
        """See :meth:`FunctionInvokable.invoke_async`."""
        invokable = self._invokable()
        return await invokable.invoke_async(self._function._make_input(*args, **kwargs))  # type: ignore[no-any-return]

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """See :meth:`FunctionInvokable.submit`."""
        function = self._function
        inner = self._invokable().submit(function._make_input(*args, **kwargs))
        return _submit(inner, function._unwrap)

    def __repr__(self) -> str:
        return f"<bound enact.invokable {self._function.name} of {self._obj!r}>"


def _submit(inner: Any, unwrap: Callable[[Any], Any]) -> Any:
    """A future of the unwrapped output of ``inner``, the future of a submitted call."""
    import concurrent.futures

    outer: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def done(future: concurrent.futures.Future[Any]) -> None:
        if future.cancelled():
            outer.cancel()
            outer.set_running_or_notify_cancel()
            return
        error = future.exception()
        if error is not None:
            outer.set_exception(error)
        else:
            try:
                outer.set_result(unwrap(future.result()))
            except Exception as e:  # pragma: no cover - unwrap of a checked output
                outer.set_exception(e)

    inner.add_done_callback(done)
    return outer


def _set_method_state(self: Any, other: Any) -> None:
    # A method's invokable holds the resource it was called on: replay applies
    # the recorded post-call state to that very object, not to a copy.
    if type(other) is not type(self):
        raise TypeError(
            f"set_from expects a {type(self).__qualname__}, got {type(other).__qualname__}"
        )
    self.self.set_from(other.self)
    for name in type(self).field_names():
        if name != "self":
            object.__setattr__(self, name, getattr(other, name))


def _value(output: Any) -> Any:
    return output.value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_identifiers(names: Any) -> None:
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):  # pragma: no cover - Python's own
            raise InvokableTypeError(f"@enact.invokable: parameter name {name!r} is not usable")


@overload
def invokable(fn: Callable[P, R], /) -> FunctionInvokable[P, R]: ...


@overload
def invokable(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    version: str | None = None,
    cache: bool | Cache = False,
) -> Callable[[Callable[P, R]], FunctionInvokable[P, R]]: ...


def invokable(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    version: str | None = None,
    cache: bool | Cache = False,
) -> FunctionInvokable[P, R] | Callable[[Callable[P, R]], FunctionInvokable[P, R]]:
    """Makes a plain function (``def`` or ``async def``) an invokable.

    Inside a tracked call, calling it records a child invocation whose input
    is the arguments bound to the signature (defaults applied, so
    ``f("x")`` and ``f(text="x")`` are the same request) and returns what the
    function returns; outside any, it just runs. ``f.invoke(...)`` runs it
    tracked at top level. Every parameter and the return value must be
    annotated with ``str``, ``int``, ``float``, ``bool``, ``bytes``, ``None``,
    ``list[T]``, ``dict[str, T]``, ``T | None``, a registered resource type,
    ``PIL.Image.Image`` or ``numpy.ndarray``; arguments must fit exactly (an
    ``int`` is accepted for a ``float``), else :class:`InvokableTypeError`.

    Args:
        fn: the function (when used bare, ``@enact.invokable``).
        name: the invokable's type name (``module.qualname`` by default;
            required for a lambda or a local function).
        version: part of the invokable's state: changing it changes the
            request digest of every call (editing the body does not).
        cache: reuse a finished recorded call with the same request from the
            active store instead of running it (see :class:`Cache`).

    Raises:
        InvokableTypeError: an unsupported or missing annotation, ``*args``
            or ``**kwargs``, or a lambda/local function without ``name``.
    """
    if fn is None:

        def decorate(given: Callable[P, R]) -> FunctionInvokable[P, R]:
            return FunctionInvokable(given, name, version, cache, sys._getframe(1).f_locals)

        return decorate
    return FunctionInvokable(fn, name, version, cache, sys._getframe(1).f_locals)
