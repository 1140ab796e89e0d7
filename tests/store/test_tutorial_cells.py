"""Tutorial cells In [7]-[10] (stores, refs, modify, FileBackend) print the expected output.

The cells run unchanged in a child process, as its __main__ module (so type
names match the tutorial's), against an ``enact`` namespace assembled from
enact_resource and enact_store alone.
"""

from __future__ import annotations

import os
import subprocess
import sys

# Stands in for `import enact`: the store package must work on its own.
NAMESPACE = """\
import types

import enact_resource
import enact_store

enact = types.SimpleNamespace(
    **{name: getattr(module, name) for module in (enact_resource, enact_store)
       for name in module.__all__}
)
"""

# In [1], without its `import enact` and its prints.
CELL_1 = """\
import dataclasses

@dataclasses.dataclass
class MyResource(enact.Resource):
  my_field: str
  my_other_field: int
"""

# Copied verbatim; the two lines holding only two spaces are written \x20\x20.
CELLS_7_TO_10 = """\
# Create an ephemeral in-memory store:
with enact.Store() as store:
  my_resource = MyResource('hello', 42)
  identical_resource = MyResource('hello', 42)
  different_resource = MyResource('hello', 43)
\x20\x20
  ref1: enact.Ref[MyResource] = enact.commit(my_resource)
  ref2: enact.Ref[MyResource] = enact.commit(identical_resource)
  print(ref1)
  print(ref2)
  print(f'ref1 and ref2 are identical? {ref1 == ref2}')
  ref3: enact.Ref[MyResource] = enact.commit(different_resource)
  print(ref3)
  print(f'ref1 and ref3 are identical? {ref1 == ref3}')

with store:
  # Must enter context where resource is stored.
  print(ref1.get())
  # This is equivalent to the above:
  print(ref1())

with store:
  print(f'Referenced resource:\\n  {ref1()}\\n')
  resource: MyResource = ref1()
  resource.my_field = 'changed'
  print(f'Referenced resource after local change:\\n  {ref1()}\\n')
\x20\x20
  with ref1.modify() as resource:
    resource.my_field = 'changed again'

  print(f'Reference to new resource after call to modify:\\n  {ref1()}')

import tempfile

# File storage requires that we register the types we want to store
# since serialization and deserialization is required to store the data.
enact.register(MyResource)

with tempfile.TemporaryDirectory() as root_dir:
  with enact.Store(enact.FileBackend(root_dir)) as file_store:
    ref = enact.commit(MyResource('hello', 42))

  del file_store  # Remove reference to file store

  with enact.Store(enact.FileBackend(root_dir)) as file_store:
    # The resource is still available.
    print(ref())
"""

# tutorial.expected.txt lines 13-28: the output of In [7] to In [10].
EXPECTED = """\
<Ref: 947051f773d0e01ed76be7506fe4cfde5be54d35eef91f10b488d3e8b789ee3b>
<Ref: 947051f773d0e01ed76be7506fe4cfde5be54d35eef91f10b488d3e8b789ee3b>
ref1 and ref2 are identical? True
<Ref: e3c81261835f94086c039fadeed74169a6e3afc70733f003ea4484dc3b7ffa79>
ref1 and ref3 are identical? False
MyResource(my_field='hello', my_other_field=42)
MyResource(my_field='hello', my_other_field=42)
Referenced resource:
  MyResource(my_field='hello', my_other_field=42)

Referenced resource after local change:
  MyResource(my_field='hello', my_other_field=42)

Reference to new resource after call to modify:
  MyResource(my_field='changed again', my_other_field=42)
MyResource(my_field='hello', my_other_field=42)
"""


def test_tutorial_cells_7_to_10_print_the_expected_output() -> None:
    script = "\n".join([NAMESPACE, CELL_1, CELLS_7_TO_10])

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED
    assert "import enact\n" not in script
