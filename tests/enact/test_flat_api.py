"""``import enact`` re-exports the public API of the three libraries, flat (SPEC §6)."""

import pytest

import enact
import enact_invoke
import enact_resource
import enact_store

HOME_PACKAGES = (enact_resource, enact_store, enact_invoke)

# Every name SPEC §6 lists for the meta-package.
SPEC_NAMES = [
    "Resource",
    "ResourceBase",
    "ResourceDict",
    "FieldTypeError",
    "register",
    "Registry",
    "Serializer",
    "JsonSerializer",
    "SerializationError",
    "DeserializationError",
    "Str",
    "Int",
    "Float",
    "Bytes",
    "NoneResource",
    "Ref",
    "RefError",
    "NotFound",
    "PackedResource",
    "StorageBackend",
    "InMemoryBackend",
    "FileBackend",
    "SqliteBackend",
    "PostgresBackend",
    "Store",
    "commit",
    "open_store",
    "copy",
    "pprint",
    "pformat",
    "InvokableBase",
    "Invokable",
    "typed_invokable",
    "Invocation",
    "Request",
    "Response",
    "ReplayContext",
    "ReplayError",
    "ExceptionResource",
    "WrappedException",
    "InvocationError",
    "InvokableTypeError",
    "InputChanged",
    "InputRequest",
    "InputRequired",
    "InputRequestOutsideInvocation",
    "RequestInput",
    "RequestedTypeUndetermined",
    "request_input",
]

PUBLIC_NAMES = sorted(name for name in enact.__all__ if not name.startswith("__"))


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_flat_name_is_the_home_package_object(name: str) -> None:
    homes = [package for package in HOME_PACKAGES if name in package.__all__]
    assert homes, f"enact.{name} is not exported by any of the home packages"
    for package in homes:
        assert getattr(enact, name) is getattr(package, name), f"{package.__name__}.{name}"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_name_is_exported_flat(name: str) -> None:
    assert name in enact.__all__
    assert hasattr(enact, name)


def test_every_exported_name_exists() -> None:
    missing = [name for name in enact.__all__ if not hasattr(enact, name)]
    assert missing == []


def test_input_required_is_input_request() -> None:
    assert enact.InputRequired is enact.InputRequest


def test_no_output_error_is_exported_flat() -> None:
    assert enact.NoOutputError is enact_invoke.NoOutputError
    assert issubclass(enact.NoOutputError, LookupError)
