"""Every exception of the enact API, in one tree.

Each class is defined in its home package (enact-resource, enact-store,
enact-invoke) and exported flat by ``enact``. ``except enact.EnactError``
catches every error enact raises on purpose; each error also subclasses the
built-in exception it resembles (in parentheses), so ``except TypeError`` or
``except LookupError`` catch it as well::

    Exception
    ├── EnactError                              an error enact raises on purpose
    │   ├── FieldTypeError (TypeError)          a field holds a value resources cannot hold
    │   ├── SerializationError (ValueError)     a legal value cannot be written in a format
    │   ├── DeserializationError (ValueError)   data that is not a valid encoded resource
    │   │   ├── TypeNotRegisteredError          a type id that no registered class has
    │   │   │                                   (also a RegistryError; alias ResourceNotFound)
    │   │   └── SchemaMismatchError             a stored record whose fields its class
    │   │                                       cannot take (no default, no migration)
    │   ├── RegistryError (LookupError)         a lookup in the type registry failed
    │   │   └── TypeNotRegisteredError          (above)
    │   ├── StoreError                          stores and backends
    │   │   ├── NoActiveStoreError (RuntimeError)
    │   │   │                                   no active store (outside with Store(...))
    │   │   ├── NotFound (LookupError)          the store has no object with that digest
    │   │   ├── RefError (ValueError)           a malformed digest or an invalid reference
    │   │   ├── CorruptionError                 stored data does not hash to its digest
    │   │   ├── StoreIOError (OSError)          the operating system refused an operation
    │   │   │                                   on the store (permission, disk full, ...)
    │   │   ├── GcRefused                       gc deleted nothing: it met objects or
    │   │   │                                   entries it cannot read (.problems)
    │   │   ├── UnsupportedOperation (NotImplementedError)
    │   │   │                                   the backend lacks an optional capability
    │   │   ├── ReadOnlyStoreError (PermissionError)
    │   │   │                                   a write to a store opened read-only
    │   │   └── StoreConfigError (ValueError)   a bad store URL or backend option
    │   │       ├── NoStoreError (FileNotFoundError)
    │   │       │                               nothing there, and not asked to create it
    │   │       ├── NotAStoreError              something else is there (left untouched)
    │   │       └── StoreFormatError            a storage format newer than this release
    │   └── InvokeError                         invokables and invocations
    │       ├── InvocationError (ExceptionResource)
    │       │   │                               misuse of the invocation machinery, recorded
    │       │   │                               in the invocation; invoke() raises it
    │       │   ├── InvokableTypeError (TypeError)
    │       │   │                               wrong input, output or argument type
    │       │   ├── InputChanged                a call mutated its input
    │       │   ├── ReplayError                 a replayed call does not match the record
    │       │   ├── IncompleteSubinvocationError (RuntimeError)
    │       │   │                               a call returned while calls it started ran
    │       │   ├── InputRequestOutsideInvocation
    │       │   │                               request_input() outside any invocation
    │       │   ├── RequestedTypeUndetermined   RequestInput without a requested type
    │       │   ├── RunConflict (ValueError)    a durable run of that name exists for
    │       │   │                               another request
    │       │   ├── RunInProgress (RuntimeError)
    │       │   │                               another owner holds the run's lease
    │       │   ├── RunOwnershipLost (RuntimeError)
    │       │   │                               another process took the run over
    │       │   └── StoreNotShared (ValueError) a call sent to another process from a store
    │       │                                   other processes cannot open (memory)
    │       ├── RemoteCallError (ExceptionResource, RuntimeError)
    │       │                                   a call sent to another process (enact.executor)
    │       │                                   returned no record: its worker died, say
    │       └── NoOutputError (LookupError)     get_output() of an invocation without output
    ├── ExceptionResource (Resource)            an exception recorded as itself in an invocation
    │   ├── WrappedException                    any other exception, as its traceback text
    │   ├── InputRequest                        a request for human input (alias InputRequired)
    │   ├── InvocationCancelled                 recorded for a cancelled call (never raised)
    │   ├── InvocationError                     (above)
    │   └── RemoteCallError                     (above)
    └── Warning
        └── UntrackedCallWarning (RuntimeWarning)
                                                a call in a thread that lost its tracked call

``ExceptionResource`` is the base of the user's own exceptions that
invocations record as themselves, and ``InputRequest`` is how a program
pauses for input: neither is a failure of enact, so neither is an
``EnactError`` (an ``except EnactError`` around a call never swallows a
request for input). The invocation errors are resources as well, so a call
that raised one records it; being an ``EnactError`` adds no field to them,
so their type ids and digests are unchanged. ``InvocationCancelled`` is
only recorded (the cancelled call raises ``asyncio.CancelledError``), and
``UntrackedCallWarning`` is a warning, not an error.
"""

from enact_invoke import (
    ExceptionResource,
    IncompleteSubinvocationError,
    InputChanged,
    InputRequest,
    InputRequestOutsideInvocation,
    InputRequired,
    InvocationCancelled,
    InvocationError,
    InvokableTypeError,
    InvokeError,
    NoOutputError,
    RemoteCallError,
    ReplayError,
    RequestedTypeUndetermined,
    RunConflict,
    RunInProgress,
    RunOwnershipLost,
    StoreNotShared,
    UntrackedCallWarning,
    WrappedException,
)
from enact_resource import (
    DeserializationError,
    EnactError,
    FieldTypeError,
    RegistryError,
    ResourceNotFound,
    SchemaMismatchError,
    SerializationError,
    TypeNotRegisteredError,
)
from enact_store import (
    CorruptionError,
    GcRefused,
    NoActiveStoreError,
    NoStoreError,
    NotAStoreError,
    NotFound,
    ReadOnlyStoreError,
    RefError,
    StoreConfigError,
    StoreError,
    StoreFormatError,
    StoreIOError,
    UnsupportedOperation,
)

__all__ = [
    "CorruptionError",
    "DeserializationError",
    "EnactError",
    "ExceptionResource",
    "FieldTypeError",
    "GcRefused",
    "IncompleteSubinvocationError",
    "InputChanged",
    "InputRequest",
    "InputRequestOutsideInvocation",
    "InputRequired",
    "InvocationCancelled",
    "InvocationError",
    "InvokableTypeError",
    "InvokeError",
    "NoActiveStoreError",
    "NoOutputError",
    "NoStoreError",
    "NotAStoreError",
    "NotFound",
    "ReadOnlyStoreError",
    "RefError",
    "RegistryError",
    "RemoteCallError",
    "ReplayError",
    "RequestedTypeUndetermined",
    "ResourceNotFound",
    "RunConflict",
    "RunInProgress",
    "RunOwnershipLost",
    "SchemaMismatchError",
    "SerializationError",
    "StoreConfigError",
    "StoreError",
    "StoreFormatError",
    "StoreIOError",
    "StoreNotShared",
    "TypeNotRegisteredError",
    "UnsupportedOperation",
    "UntrackedCallWarning",
    "WrappedException",
]
