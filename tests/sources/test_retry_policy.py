"""The retry policy's reconnect backoff after drops: doubling from reconnect-delay to maximum, with jitter."""

from __future__ import annotations

import pytest

from streamrt.errors import UsageError
from streamrt.sources.retry import RetryPolicy

POLICY = RetryPolicy(reconnect_delay=0.5, maximum=20.0)


def test_the_first_drop_waits_the_reconnect_delay() -> None:
    assert {POLICY.after_drop(None) for _ in range(20)} == {0.5}
    assert POLICY.after_drop(0.0, drops=1) == 0.5  # `retry: 0` does not shorten it


@pytest.mark.parametrize(("drops", "window"), [(2, 1.0), (3, 2.0), (6, 16.0), (7, 20.0), (1000, 20.0)])
def test_drops_in_a_row_double_the_window_up_to_the_maximum(drops: int, window: float) -> None:
    waits = [POLICY.after_drop(None, drops) for _ in range(200)]
    assert all(window / 2 <= wait <= window for wait in waits)
    assert len(set(waits)) > 1  # jitter: sources dropped together do not come back together


def test_a_longer_server_delay_wins_up_to_the_maximum() -> None:
    assert POLICY.after_drop(5.0, drops=2) == 5.0
    assert POLICY.after_drop(86_400.0, drops=2) == 20.0


def test_a_connection_up_for_reconnect_reset_seconds_is_stable() -> None:
    policy = RetryPolicy.from_mapping({"reconnect-reset": 30})
    assert policy.reconnect_reset == 30 and policy.stable(30.0) and not policy.stable(29.9)
    assert RetryPolicy().stable(60.0) and not RetryPolicy().stable(59.0)
    with pytest.raises(UsageError, match="reconnect_reset must be a non-negative number"):
        RetryPolicy(reconnect_reset=-1)
