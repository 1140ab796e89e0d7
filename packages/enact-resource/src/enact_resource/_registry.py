"""The process-wide registry of resource types, keyed by type id."""

from __future__ import annotations

import threading
from typing import ClassVar, TypeVar

from enact_resource._errors import TypeNotRegisteredError
from enact_resource._resource import ResourceBase, type_info

__all__ = ["Registry", "register"]

T = TypeVar("T", bound=type[ResourceBase])


class Registry:
    """Maps type ids to resource classes.

    Deserialisation resolves types only through a registry: nothing named in
    stored data is ever imported or evaluated. Registering a class whose type
    id is already taken replaces the earlier class (as happens when a notebook
    cell defining a class is run again).
    """

    _instance: ClassVar[Registry | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._classes: list[type[ResourceBase]] = []
        self._by_id: dict[str, type[ResourceBase]] = {}
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

    def register(self, resource_type: T) -> T:
        """Registers a resource class and returns it (usable as a decorator)."""
        if not (isinstance(resource_type, type) and issubclass(resource_type, ResourceBase)):
            raise TypeError(
                f"Only ResourceBase subclasses can be registered, got {resource_type!r}"
            )
        with self._lock:
            if resource_type in self._classes:
                self._classes.remove(resource_type)
            self._classes.append(resource_type)  # The latest registration wins.
            self._by_id[type_info(resource_type).type_id] = resource_type
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

    def types(self) -> dict[str, type[ResourceBase]]:
        """Returns the registered classes by type id (a snapshot; the latest of each id)."""
        if self._pending:
            self._settle()
        with self._lock:
            return {type_info(cls).type_id: cls for cls in self._classes}

    def _find(self, type_id: str) -> type[ResourceBase] | None:
        with self._lock:
            self._by_id = {type_info(cls).type_id: cls for cls in self._classes}
            self.version += 1
            return self._by_id.get(type_id)


def register(resource_type: T) -> T:
    """Registers a resource class with the process registry (a class decorator)."""
    return Registry.get().register(resource_type)
