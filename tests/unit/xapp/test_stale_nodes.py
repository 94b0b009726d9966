"""The watchdog's notion of a silent node: reporting periods, not the gaps between one node's cells."""

import time

from ranml.xapp.subscriptions import E2Subscriptions, SubscriptionSpec, _Active


def subscriptions(period_s: float) -> tuple[E2Subscriptions, _Active]:
    async def send(msg):  # never called here
        raise AssertionError

    subs = E2Subscriptions(send, stale_after=3)
    sub = _Active(SubscriptionSpec("gnb_1", 2, b"", ((1, b""),), period_s), 7)
    sub.state, sub.last_report = "active", time.monotonic()
    subs.active[7] = sub
    return subs, sub


def test_cells_reported_back_to_back_do_not_shorten_the_deadline(monkeypatch):
    subs, sub = subscriptions(period_s=1.0)
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for _ in range(3):  # three periods: ten cells' indications 0.1 ms apart, then the next period
        for _ in range(10):
            clock[0] += 0.0001
            subs.on_report(7)
        clock[0] += 1.0
    assert sub.interval is not None and abs(sub.interval - 1.0) < 0.01  # rounds, not the cells' tiny gaps
    clock[0] += 1.5
    assert subs.stale_nodes() == set()  # 2.5 s of silence is under 3 intervals of 1 s
    clock[0] += 1.0
    assert subs.stale_nodes() == {"gnb_1"}  # 3.5 s: the node stopped


def test_a_node_reporting_slower_than_subscribed_gets_its_own_interval(monkeypatch):
    subs, _ = subscriptions(period_s=1.0)
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for _ in range(20):
        clock[0] += 4.0  # every 4 s, though 1 s was asked
        subs.on_report(7)
    clock[0] += 10.0
    assert subs.stale_nodes() == set()  # 10 s < 3 x ~4 s
    clock[0] += 3.0
    assert subs.stale_nodes() == {"gnb_1"}


def test_a_fast_simulated_clock_is_followed_in_real_time(monkeypatch):
    """e2sim at 600x: a 60 s period is 0.1 s of real time, and the watchdog must notice within a second."""
    subs, sub = subscriptions(period_s=60.0)
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for _ in range(10):
        for _ in range(4):
            clock[0] += 0.0002
            subs.on_report(7)
        clock[0] += 0.1
    assert sub.interval is not None and abs(sub.interval - 0.1) < 0.01
    clock[0] += 0.2
    assert subs.stale_nodes() == set()
    clock[0] += 0.3
    assert subs.stale_nodes() == {"gnb_1"}
