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

from typing import TYPE_CHECKING

from streamrt.lazy import lazy_exports

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

_HOME: dict[str, str] = {
    "FakeClock": "streamrt.testing.clock",
    "StreamHarness": "streamrt.testing.harness",
    "provider_machine": "streamrt.testing.machine",
    "TestResult": "streamrt.testing.runner",
    "run_test_file": "streamrt.testing.runner",
    "ExampleTest": "streamrt.testing.scripts",
    "PropertyTest": "streamrt.testing.scripts",
    "TestFile": "streamrt.testing.scripts",
    "load_test_file": "streamrt.testing.scripts",
    "chunks": "streamrt.testing.strategies",
    "directive_sequences": "streamrt.testing.strategies",
    "directives": "streamrt.testing.strategies",
    "keywords": "streamrt.testing.strategies",
}
"""Each public name and the module that defines it."""

__getattr__, __dir__ = lazy_exports(globals(), _HOME)
