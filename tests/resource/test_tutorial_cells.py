"""Tutorial cells In [1] to In [6] print what the tutorial shows (SPEC section 8).

The cells and their expected output are copied from the spec's tutorial.py and
tutorial.expected.txt (first 12 lines), so this test needs nothing outside the
repository. Each cell is run after the cells before it, as the tutorial runs
them, in a fresh interpreter as the ``__main__`` module.
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest


class Cell(NamedTuple):
    name: str
    source: str
    output: tuple[str, ...]


CELLS = [
    Cell(
        "In [1]",
        """\
import enact

import dataclasses

@dataclasses.dataclass
class MyResource(enact.Resource):
  my_field: str
  my_other_field: int

print(f'Unique type identifier: {repr(MyResource.type_id())}')
print(f'Fields of the resource: {list(MyResource.field_names())}')
""",
        (
            (
                'Unique type identifier: \'{"digest": "a46cd7bf341ef134fe8fd7e97e564f0f8'
                '4425c747c3c55850cd599f1249b97f5", "name": "__main__.MyResource"}\''
            ),
            "Fields of the resource: ['my_field', 'my_other_field']",
        ),
    ),
    Cell(
        "In [2]",
        """\
my_resource = MyResource('hello', 42)
print(my_resource.my_field)
print(my_resource.my_other_field)
print(f'Field values of the resource: {list(my_resource.field_values())}')
print(f'Field items: {list(my_resource.field_items())}')
""",
        (
            "hello",
            "42",
            "Field values of the resource: ['hello', 42]",
            "Field items: [('my_field', 'hello'), ('my_other_field', 42)]",
        ),
    ),
    Cell(
        "In [3]",
        """\
class MyIntResource(enact.ResourceBase, int):

  @classmethod
  def from_fields(cls, field_dict) -> 'MyIntResource':
    return cls(field_dict['value'])

  @classmethod
  def field_names(cls):
    yield 'value'

  def field_values(self):
    yield int(self)

print(MyIntResource(5).to_resource_dict())
""",
        ("{'value': 5}",),
    ),
    Cell(
        "In [4]",
        """\
from typing import Dict, List, Union, Type

@dataclasses.dataclass
class ComplexResource(enact.Resource):
  primitives: List[Union[int, float, bool, str, bytes, bool, type(None)]]
  map_value: Dict[str, MyResource]
  nested_resource: MyResource
  resource_type: Type[MyResource]

print(ComplexResource(
  primitives=[1, 2.0, False, None, 'test', b'bytes'],
  map_value={'hello': MyResource('hello', 69)},
  nested_resource=MyResource('hola', 42),
  resource_type=MyResource).to_resource_dict())
""",
        (
            (
                "{'primitives': [1, 2.0, False, None, 'test', b'bytes'], 'map_value': {"
                "'hello': {'my_field': 'hello', 'my_other_field': 69}}, 'nested_resourc"
                "e': {'my_field': 'hola', 'my_other_field': 42}, 'resource_type': <clas"
                "s '__main__.MyResource'>}"
            ),
        ),
    ),
    Cell(
        "In [5]",
        """\
class NotAResource:
  pass

@dataclasses.dataclass
class InvalidResource(enact.Resource):
  x: NotAResource

try:
  InvalidResource(NotAResource()).to_resource_dict()
except enact.FieldTypeError as e:
  print(f'Got error: {e}')
""",
        (
            (
                "Got error: Encountered unsupported field type <class '__main__.NotARes"
                "ource'>: <__main__.NotAResource object at 0x...>"
            ),
        ),
    ),
    Cell(
        "In [6]",
        """\
@enact.register
@dataclasses.dataclass
class ResourceToSerialize(enact.Resource):
  value: int

# After registration we can look up the type by its type_id:
print(enact.Registry.get().lookup(ResourceToSerialize.type_id()))

serialized = enact.JsonSerializer().serialize(
    ResourceToSerialize(42).to_resource_dict())
print(f'serialized: {serialized}')

# Since the resource is registered, we can deserialize it without specifying its
# type.
print(enact.JsonSerializer().deserialize(serialized).to_resource())
""",
        (
            "<class '__main__.ResourceToSerialize'>",
            (
                'serialized: b\'{"#res": "{\\\\"digest\\\\": \\\\"828bfb94333b141b83518e5a89ee'
                '13babbee6ebee3a9b4f52e692400ce31d722\\\\", \\\\"name\\\\": \\\\"__main__.Resou'
                'rceToSerialize\\\\"}", "value": 42}\''
            ),
            "ResourceToSerialize(value=42)",
        ),
    ),
]


def _mask_addresses(text: str) -> str:
    return re.sub(r" at 0x[0-9a-fA-F]+>", " at 0x...>", text)


def _run_cells(cells: list[Cell], tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "tutorial_cells.py"
    script.write_text("\n".join(cell.source for cell in cells))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("count", range(1, len(CELLS) + 1), ids=[cell.name for cell in CELLS])
def test_tutorial_cell_prints_the_tutorial_output(count: int, tmp_path: Path) -> None:
    cells = CELLS[:count]

    result = _run_cells(cells, tmp_path)

    assert result.returncode == 0, result.stderr
    expected = [line for cell in cells for line in cell.output]
    assert _mask_addresses(result.stdout).splitlines() == expected
