from hub.client import Sequencer, Verdict

TOPIC = "casualty:c1"


def subscribed_sequencer(since: int = 0) -> Sequencer:
    sequencer = Sequencer()
    sequencer.track(TOPIC, since)
    sequencer.subscribing(TOPIC)
    sequencer.subscribed(TOPIC)
    return sequencer


def test_consecutive_messages_are_delivered_and_advance_the_last_seq() -> None:
    sequencer = subscribed_sequencer()
    assert [sequencer.accept(TOPIC, seq) for seq in (1, 2, 3)] == [Verdict.DELIVER] * 3
    assert sequencer.last_seq[TOPIC] == 3


def test_a_seq_already_held_is_a_duplicate_and_does_not_move_the_mark() -> None:
    sequencer = subscribed_sequencer(since=5)
    assert sequencer.accept(TOPIC, 5) is Verdict.DUPLICATE
    assert sequencer.accept(TOPIC, 2) is Verdict.DUPLICATE
    assert sequencer.last_seq[TOPIC] == 5


def test_a_jump_in_seq_is_a_gap_reported_once_until_the_resubscribe_is_acked() -> None:
    sequencer = subscribed_sequencer(since=3)
    assert sequencer.accept(TOPIC, 5) is Verdict.GAP
    assert sequencer.accept(TOPIC, 6) is Verdict.AWAITING_FILL
    assert sequencer.last_seq[TOPIC] == 3


def test_the_replay_after_a_gap_fills_it_in_order_without_duplicates() -> None:
    sequencer = subscribed_sequencer(since=3)
    assert sequencer.accept(TOPIC, 5) is Verdict.GAP
    # The re-subscribe with since=3 replays 4, 5, 6; a late live 6 is a duplicate.
    verdicts = [sequencer.accept(TOPIC, seq) for seq in (4, 5, 6, 6)]
    assert verdicts == [Verdict.DELIVER, Verdict.DELIVER, Verdict.DELIVER, Verdict.DUPLICATE]
    assert sequencer.last_seq[TOPIC] == 6


def test_a_new_jump_after_the_resubscribe_ack_is_a_new_gap() -> None:
    sequencer = subscribed_sequencer(since=3)
    assert sequencer.accept(TOPIC, 5) is Verdict.GAP
    sequencer.accept(TOPIC, 4)
    sequencer.accept(TOPIC, 5)
    sequencer.subscribed(TOPIC)
    assert sequencer.accept(TOPIC, 9) is Verdict.GAP


def test_after_a_lost_connection_a_jump_is_a_gap_again() -> None:
    sequencer = subscribed_sequencer(since=3)
    assert sequencer.accept(TOPIC, 5) is Verdict.GAP
    sequencer.reset_subscriptions()
    assert sequencer.accept(TOPIC, 5) is Verdict.GAP


def test_messages_of_a_topic_not_tracked_are_not_delivered() -> None:
    sequencer = subscribed_sequencer()
    assert sequencer.accept("casualty:other", 1) is Verdict.UNTRACKED
    sequencer.forget(TOPIC)
    assert sequencer.accept(TOPIC, 1) is Verdict.UNTRACKED
    assert TOPIC not in sequencer.last_seq


def test_subscribing_without_since_resumes_from_the_last_seq_held() -> None:
    sequencer = subscribed_sequencer()
    sequencer.accept(TOPIC, 1)
    sequencer.accept(TOPIC, 2)
    assert sequencer.track(TOPIC) == 2
    assert sequencer.subscribing(TOPIC) == 2


def test_subscribing_with_an_explicit_since_replays_from_there_again() -> None:
    sequencer = subscribed_sequencer()
    for seq in (1, 2, 3):
        sequencer.accept(TOPIC, seq)
    assert sequencer.track(TOPIC, since=1) == 1
    assert sequencer.accept(TOPIC, 2) is Verdict.DELIVER


def test_a_new_topic_starts_from_zero() -> None:
    sequencer = Sequencer()
    assert sequencer.track(TOPIC) == 0
    assert list(sequencer.topics) == [TOPIC]
