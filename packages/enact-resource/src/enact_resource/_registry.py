"""The process-wide registry of resource types, keyed by type id."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import ClassVar, TypeVar, overload

from enact_resource._errors import TypeNotRegisteredError
from enact_resource._resource import ResourceBase, set_type_name, type_info

__all__ = ["Registry", "register"]

T = TypeVar("T", bound=type[ResourceBase])


class Registry:
    """Maps type ids to resource classes.

    Deserialisation resolves types only through a registry: nothing named in
    stored data is ever imported or evaluated. Registering a class whose type
    id is already taken replaces the earlier class (as happens when a notebook
    cell defining a class is run again).

    Besides exact type ids, the registry resolves type *names* (the ``name``
    in a type id, see :func:`lookup_name`): records stored under an older
    version of a class (other fields), or under an old name given as an
    alias, are read as the current class (see ``docs/format.md``).
    """

    _instance: ClassVar[Registry | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._classes: list[type[ResourceBase]] = []
        self._by_id: dict[str, type[ResourceBase]] = {}
        # Type name (current or alias) -> class, rebuilt with _by_id.
        self._by_name: dict[str, type[ResourceBase]] = {}
        # Old names given with register(aliases=...), per class.
        self._aliases: dict[type[ResourceBase], tuple[str, ...]] = {}
        # Dataclass resources registered before @dataclass processed them (the
        # decorator order `@dataclass @register`), with the fields object seen
        # then: their type id changes once @dataclass has run.
        self._pending: list[tuple[type[ResourceBase], object]] = []
        #: Increases whenever what a type id resolves to may have changed
        #: (readers cache lookups and check it).
        self.version = 0

    @classmethod
    def get(cls) -> Registry:
        """Returns the process registry."""
        instance = cls._instance
        if instance is None:
            with cls._instance_lock:
                if cls._instance is None:
                    cls._instance = Registry()
                instance = cls._instance
        return instance

    def register(
        self, resource_type: T, *, name: str | None = None, aliases: Iterable[str] = ()
    ) -> T:
        """Registers a resource class and returns it (usable as a decorator).

        Args:
            resource_type: the class.
            name: the name to use in its type id instead of ``module.qualname``
                (for a class defined in a script run as ``__main__``, say, so
                that other processes can resolve it; or to keep a name stable
                when the class moves). Changing it changes the type id.
            aliases: earlier names of the class (``old_module.OldName``):
                records stored under them are read as this class.

        Raises:
            TypeError: not a resource class, or a name or alias that is not a
                non-empty str.
        """
        if not (isinstance(resource_type, type) and issubclass(resource_type, ResourceBase)):
            raise TypeError(
                f"Only ResourceBase subclasses can be registered, got {resource_type!r}"
            )
        if isinstance(aliases, str):
            raise TypeError(f"aliases must be a list of names, got the str {aliases!r}")
        old_names = tuple(aliases)
        for given in (name, *old_names) if name is not None else old_names:
            if not (isinstance(given, str) and given.strip()):
                raise TypeError(f"Type names must be non-empty str, got {given!r}")
        if name is not None and resource_type.type_name() != name:
            set_type_name(resource_type, name)
        with self._lock:
            if resource_type in self._classes:
                self._classes.remove(resource_type)
            self._classes.append(resource_type)  # The latest registration wins.
            if old_names:
                self._aliases[resource_type] = old_names
            self._by_id[type_info(resource_type).type_id] = resource_type
            self._index_names()
            self.version += 1
            inherited_fields = getattr(resource_type, "__dataclass_fields__", None)
            if inherited_fields is not None and "__dataclass_fields__" not in vars(resource_type):
                self._pending.append((resource_type, inherited_fields))
        return resource_type

    def _settle(self) -> None:
        """Re-indexes the classes that @dataclass processed after registration.

        @dataclass runs right after @register in the same decorator stack, so
        by the first lookup each pending class has its final fields or never
        gets any (a subclass without @dataclass of its own): one check settles
        all of them. A class changed later is still found by the rescan in
        lookup().
        """
        with self._lock:
            for cls, fields in self._pending:
                if cls.__dict__.get("__dataclass_fields__", fields) is not fields:
                    self._by_id[type_info(cls).type_id] = cls
            self._pending = []
            self._index_names()
            self.version += 1

    def is_registered(self, resource_type: type[ResourceBase]) -> bool:
        """Returns whether looking up the type's id yields this very class."""
        if self._pending:
            self._settle()
        type_id = type_info(resource_type).type_id
        return self._by_id.get(type_id) is resource_type or self._find(type_id) is resource_type

    def lookup(self, type_id: str) -> type[ResourceBase]:
        """Returns the class registered under ``type_id``.

        Raises:
            TypeNotRegisteredError: no registered class has this type id.
        """
        if self._pending:
            self._settle()
        found = self._by_id.get(type_id)
        # A class's type id changes if @dataclass is applied after @register;
        # check the hit and fall back to a rescan of the registered classes.
        if found is not None and type_info(found).type_id == type_id:
            return found
        found = self._find(type_id)
        if found is None:
            raise TypeNotRegisteredError(type_id)
        return found

    def lookup_name(self, name: str) -> type[ResourceBase] | None:
        """Returns the class registered under a type name or alias, or None.

        The name is the ``name`` of a type id (``module.qualname`` unless
        fixed). A class's own name wins over another class's alias; among
        classes of one name, the latest registered.
        """
        if self._pending:
            self._settle()
        return self._by_name.get(name)

    def aliases(self, resource_type: type[ResourceBase]) -> tuple[str, ...]:
        """Returns the old names registered for a class with ``aliases=``."""
        return self._aliases.get(resource_type, ())

    def _index_names(self) -> None:
        # Under self._lock. Aliases first, so that own names win.
        by_name: dict[str, type[ResourceBase]] = {}
        for cls in self._classes:
            for alias in self._aliases.get(cls, ()):
                by_name[alias] = cls
        for cls in self._classes:
            by_name[cls.type_name()] = cls
        self._by_name = by_name

    def types(self) -> dict[str, type[ResourceBase]]:
        """Returns the registered classes by type id (a snapshot; the latest of each id)."""
        if self._pending:
            self._settle()
        with self._lock:
            return {type_info(cls).type_id: cls for cls in self._classes}

    def _find(self, type_id: str) -> type[ResourceBase] | None:
        with self._lock:
            self._by_id = {type_info(cls).type_id: cls for cls in self._classes}
            self._index_names()
            self.version += 1
            return self._by_id.get(type_id)


@overload
def register(resource_type: T, /) -> T: ...


@overload
def register(
    resource_type: None = None, /, *, name: str | None = None, aliases: Iterable[str] = ()
) -> Callable[[T], T]: ...


def register(
    resource_type: T | None = None,
    /,
    *,
    name: str | None = None,
    aliases: Iterable[str] = (),
) -> T | Callable[[T], T]:
    """Registers a resource class with the process registry (a class decorator).

    Use it bare (``@register``) or with options
    (``@register(name="greeters.Greeter", aliases=["old_module.Greeter"])``);
    see :meth:`Registry.register`.
    """
    if resource_type is None:
        return lambda cls: Registry.get().register(cls, name=name, aliases=aliases)
    return Registry.get().register(resource_type, name=name, aliases=aliases)
