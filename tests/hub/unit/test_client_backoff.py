import pytest

from hub.client import Backoff


def test_delays_double_from_initial_up_to_the_cap() -> None:
    backoff = Backoff(0.2, 5.0, random_unit=lambda: 1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])


def test_jitter_never_goes_below_half_of_the_step() -> None:
    backoff = Backoff(0.2, 5.0, random_unit=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(3)] == pytest.approx([0.1, 0.2, 0.4])


def test_jitter_spreads_delays_between_half_and_the_full_step() -> None:
    backoff = Backoff(1.0, 1.0)
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(0.5 <= delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 1


def test_reset_after_a_good_connection_starts_again_from_initial() -> None:
    backoff = Backoff(0.2, 5.0, random_unit=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


def test_a_long_outage_stays_at_the_cap_without_overflowing() -> None:
    backoff = Backoff(0.2, 5.0, random_unit=lambda: 1.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == pytest.approx(5.0)


@pytest.mark.parametrize(("initial", "maximum"), [(0, 5.0), (-1, 5.0), (2.0, 1.0)])
def test_a_schedule_that_cannot_back_off_is_refused(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, maximum)
