"""Bounded streams between the training thread and its viewers."""
import threading

import numpy as np
import pytest

from visgen.core.streams import Demand, ScalarBuffer, SnapshotSlots


# -- ScalarBuffer ------------------------------------------------------------------
def test_scalar_buffer_keeps_everything_below_capacity():
    buf = ScalarBuffer(16)
    for s in range(1, 11):
        buf.append(s, {"loss": s * 0.5})
    steps, values = buf.series()["loss"]
    assert steps.tolist() == list(range(1, 11))
    assert values.tolist() == [s * 0.5 for s in range(1, 11)]
    assert len(buf) == 10
    assert buf.latest == {"loss": 5.0}
    assert buf.version == 10


@pytest.mark.parametrize("n", [65, 1000, 10_000])
def test_scalar_buffer_thins_evenly_and_stays_bounded(n):
    cap = 64
    buf = ScalarBuffer(cap)
    for s in range(1, n + 1):
        buf.append(s, {"loss": float(s)})
    steps, values = buf.series(["loss"])["loss"]
    assert cap // 2 <= len(steps) <= cap
    assert len(buf) == len(steps)
    assert steps[0] == 1                      # the first step survives every thinning
    gaps = np.diff(steps)
    assert (gaps > 0).all()
    assert len(set(gaps.tolist())) == 1       # evenly spaced: one resolution for the whole curve
    assert steps[-1] > n - gaps[0]            # and the newest point is within one stride of the end
    assert np.array_equal(values, steps.astype(float))  # values stay paired with their steps
    assert buf.latest["loss"] == float(n)     # the latest value is exact even if not kept


def test_scalar_buffer_sparse_series_survive_a_dense_one():
    buf = ScalarBuffer(32)
    for s in range(1, 10_001):
        vals = {"loss": 1.0 / s}
        if s % 500 == 0:
            vals["fid"] = float(s)
        buf.append(s, vals)
    out = buf.series()
    assert set(out) == {"loss", "fid"}
    assert out["fid"][0].tolist() == list(range(500, 10_001, 500))  # all 20 kept
    assert len(out["loss"][0]) <= 32
    assert len(buf) == len(out["loss"][0])
    assert buf.names == ["loss", "fid"]


def test_scalar_buffer_series_are_copies_and_clear_empties():
    buf = ScalarBuffer(8)
    buf.append(1, {"a": 1.0})
    steps, values = buf.series()["a"]
    values[0] = 99.0
    assert buf.series()["a"][1][0] == 1.0
    assert buf.series(["nope"]) == {}
    buf.clear()
    assert len(buf) == 0 and buf.series() == {} and buf.latest == {} and buf.version == 0


@pytest.mark.parametrize("cap", [0, 1, 7])
def test_scalar_buffer_capacity_must_be_even(cap):
    with pytest.raises(ValueError):
        ScalarBuffer(cap)


def test_scalar_buffer_concurrent_writer_and_reader():
    buf = ScalarBuffer(64)
    done = threading.Event()
    errors = []

    def write():
        for s in range(1, 20_001):
            buf.append(s, {"loss": float(s)})
        done.set()

    t = threading.Thread(target=write)
    t.start()
    try:
        while not done.is_set():
            for steps, values in buf.series().values():
                if len(steps) != len(values) or not np.array_equal(steps.astype(float), values) \
                        or len(steps) > 64 or (np.diff(steps) <= 0).any():
                    errors.append((steps, values))
    finally:
        t.join()
    assert not errors


# -- SnapshotSlots -------------------------------------------------------------------
def test_slots_latest_wins_and_counts_dropped():
    slots = SnapshotSlots()
    slots.put("a", "a1")
    slots.put("a", "a2")
    slots.put("a", "a3")
    slots.put("b", "b1")
    assert slots.pending() == 2
    assert slots.dropped == 2
    assert slots.take("a") == "a3"
    assert slots.take("a") is None
    assert slots.take("b") == "b1"
    assert slots.take("never") is None
    assert slots.delivered == 2 and slots.pending() == 0


def test_slots_read_before_overwrite_is_not_dropped():
    slots = SnapshotSlots()
    for i in range(5):
        slots.put("v", i)
        assert slots.take("v") == i
    assert slots.dropped == 0 and slots.delivered == 5


def test_slots_clear():
    slots = SnapshotSlots()
    slots.put("v", 1)
    slots.clear()
    assert slots.take("v") is None and slots.pending() == 0


def test_slots_accounting_under_threads():
    slots = SnapshotSlots()
    n_writers, per_writer = 4, 5000
    got = []
    stop = threading.Event()

    def write(w):
        for i in range(per_writer):
            slots.put(f"v{w % 2}", (w, i))

    def read():
        while not stop.is_set():
            for v in ("v0", "v1"):
                s = slots.take(v)
                if s is not None:
                    got.append(s)

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(n_writers)]
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    # every put was delivered, dropped or is still waiting; nothing queues up
    assert slots.delivered == len(got)
    assert slots.delivered + slots.dropped + slots.pending() == n_writers * per_writer
    assert slots.pending() <= 2


# -- Demand ----------------------------------------------------------------------------
def test_demand_only_requested_views_are_due():
    d = Demand()
    assert d.due(now=0.0) == []
    d.request("a")
    assert d.due(now=0.0) == ["a"]
    assert d.wanted() == {"a"}
    d.withdraw("a")
    assert d.due(now=0.0) == []


def test_demand_budget_spaces_expensive_views():
    d = Demand(budget=0.03, min_interval=1 / 30)
    d.request("slow")
    d.served("slow", cost=0.1, now=100.0)
    assert d.due(now=100.0) == []            # served: not wanted until asked again
    d.request("slow")
    wait = 0.1 / 0.03                          # 3.33 s keeps snapshot cost at 3 % of the time
    assert d.due(now=100.0 + 1.0) == []
    assert d.due(now=100.0 + wait - 0.05) == []
    assert d.due(now=100.0 + wait + 0.05) == ["slow"]
    assert d.due(now=100.0 + 1.0, ignore_budget=True) == ["slow"]


def test_demand_cheap_views_limited_by_min_interval():
    d = Demand(budget=0.03, min_interval=0.1)
    d.request("cheap")
    d.served("cheap", cost=0.0001, now=10.0)
    d.request("cheap")
    assert d.due(now=10.05) == []
    assert d.due(now=10.11) == ["cheap"]


def test_demand_cost_is_smoothed():
    d = Demand(budget=0.03, min_interval=0.0, max_age=None)
    d.request("v")
    d.served("v", cost=0.3, now=0.0)          # cost 0.3 -> wait 10 s
    d.request("v")
    d.served("v", cost=0.0, now=0.0)          # smoothed: 0.7 * 0.3 = 0.21 -> wait 7 s
    d.request("v")
    assert d.due(now=6.9) == []
    assert d.due(now=7.1) == ["v"]


def test_demand_views_are_independent():
    d = Demand(budget=0.03, max_age=None)
    for v in ("slow", "fast"):
        d.request(v)
    d.served("slow", cost=0.1, now=0.0)
    d.served("fast", cost=0.001, now=0.0)
    d.request("slow")
    d.request("fast")
    assert d.due(now=0.5) == ["fast"]
    # two active views share the 3 % budget: the slow one waits 0.1 / 0.015 = 6.7 s
    assert d.due(now=4.0) == ["fast"]
    assert sorted(d.due(now=6.8)) == ["fast", "slow"]


def test_demand_counts_drawing_time_in_the_cost():
    """The GUI's drawing competes with training for the interpreter lock: it is budgeted too."""
    d = Demand(budget=0.05, min_interval=0.1)
    d.request("v")
    d.served("v", cost=0.001, now=0.0)
    d.drawn("v", 0.049)                   # 50 ms per snapshot in all, one active view
    d.request("v")
    assert d.due(now=0.5) == []           # cheap to take, dear to draw: not at 10 Hz
    assert d.due(now=1.01) == ["v"]       # 0.05 s / 0.05 = every second


def test_demand_keeps_every_affordable_view_fresh():
    """Seven views sharing a 5 % budget would each wait cost / 0.7 %: a 50 ms view 7 s.
    Freshness caps that at max_age while all of them together cost at most `overrun`."""
    d = Demand(budget=0.05, min_interval=0.2, max_age=4.0, overrun=0.15)
    for i in range(7):
        d.request(f"v{i}")
        d.served(f"v{i}", cost=0.05, now=0.0)
        d.request(f"v{i}")
    assert d.due(now=3.9) == []
    assert len(d.due(now=4.01)) == 7


def test_demand_a_dear_view_waits_cost_over_overrun():
    d = Demand(budget=0.05, max_age=4.0, overrun=0.15)
    d.request("dear")
    d.served("dear", cost=1.5, now=0.0)       # alone, 1.5 s a picture: every 10 s keeps it at 15 %
    d.request("dear")
    assert d.due(now=9.9) == []
    assert d.due(now=10.1) == ["dear"]        # not every 30 s (cost / budget)


def test_demand_shares_the_round_by_cost_not_by_count():
    """DDPM on 2D data: one 250 ms sampler view among six 10 ms views. Shared by count, it would
    wait 0.25 * 7 / 0.15 = 11.7 s; one round of all seven costs 0.31 s, 2 % of 15 s, so all
    seven stay within max_age."""
    d = Demand(budget=0.05, min_interval=0.2, max_age=4.0, overrun=0.15)
    costs = {"sampler": 0.25, **{f"cheap{i}": 0.01 for i in range(6)}}
    for v, c in costs.items():
        d.request(v)
        d.served(v, cost=c, now=0.0)
        d.request(v)
    assert "sampler" not in d.due(now=3.9)
    assert "sampler" in d.due(now=4.01)


def test_demand_a_dear_round_stretches_every_wait():
    """Three 1 s views: a round costs 3 s, so each waits 3 / 0.15 = 20 s (15 % in all)."""
    d = Demand(budget=0.05, max_age=4.0, overrun=0.15)
    for v in ("a", "b", "c"):
        d.request(v)
        d.served(v, cost=1.0, now=0.0)
        d.request(v)
    assert d.due(now=19.9) == []
    assert sorted(d.due(now=20.1)) == ["a", "b", "c"]


def test_demand_expire_makes_every_asking_view_due_now():
    """A live parameter changed: the pictures are out of date, whatever the budget said."""
    d = Demand(budget=0.05, max_age=None)
    d.request("samples")
    d.served("samples", cost=1.0, now=0.0)    # would wait 20 s
    d.request("samples")
    assert d.due(now=1.0) == []
    d.expire()
    assert d.due(now=1.0) == ["samples"]
