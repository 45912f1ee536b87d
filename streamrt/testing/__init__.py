"""Testing processors: hypothesis strategies, a provider state machine, and ``streamrt test``.

- :mod:`streamrt.testing.clock`: ``FakeClock``, a provider clock that moves only when a test moves it (timers);
- :mod:`streamrt.testing.strategies`: ``chunks``, ``keywords``, ``directives``, ``directive_sequences``;
- :mod:`streamrt.testing.machine`: ``provider_machine(processor)``, a ``RuleBasedStateMachine`` that drives a real
  provider and checks the runtime's invariants (:mod:`streamrt.testing.harness` holds the checks);
- :mod:`streamrt.testing.scripts` and :mod:`streamrt.testing.runner`: tests written in the language
  (``deftest``, ``defproperty``) and the ``streamrt test`` command (:mod:`streamrt.testing.cli`).

Names are imported on first use, so ``streamrt test`` on example tests alone does not pay for hypothesis.
See docs/testing.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamrt.testing.clock import FakeClock
    from streamrt.testing.harness import StreamHarness
    from streamrt.testing.machine import provider_machine
    from streamrt.testing.runner import TestResult, run_test_file
    from streamrt.testing.scripts import ExampleTest, PropertyTest, TestFile, load_test_file
    from streamrt.testing.strategies import chunks, directive_sequences, directives, keywords

__all__ = [
    "ExampleTest",
    "FakeClock",
    "PropertyTest",
    "StreamHarness",
    "TestFile",
    "TestResult",
    "chunks",
    "directive_sequences",
    "directives",
    "keywords",
    "load_test_file",
    "provider_machine",
    "run_test_file",
]

_HOME = {
    "FakeClock": "clock",
    "StreamHarness": "harness",
    "provider_machine": "machine",
    "TestResult": "runner",
    "run_test_file": "runner",
    "ExampleTest": "scripts",
    "PropertyTest": "scripts",
    "TestFile": "scripts",
    "load_test_file": "scripts",
    "chunks": "strategies",
    "directive_sequences": "strategies",
    "directives": "strategies",
    "keywords": "strategies",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'streamrt.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"streamrt.testing.{module}"), name)
    globals()[name] = value
    return value
