"""A site's KPM history without a RIC: the scenario's network run headless, nothing controlling it.

A model benchmarked on generic telemetry is usually retrained on the site's own history before
(or after) it goes live. :func:`record_history` produces that history for an e2sim scenario: the
same cells, traffic trace, fluctuation and measurement definitions the simulator reports over E2,
for a period *before* the scenario's start, so a model trained on it has not seen the period it
is then evaluated on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ranml.e2sim.layout import build_layout, build_network
from ranml.e2sim.network import MEASUREMENTS
from ranml.e2sim.scenario import Scenario, seconds
from ranml.errors import ConfigError

__all__ = ["record_history"]

_USED, _AVAIL, _CONN = (MEASUREMENTS[m].row for m in ("RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRC.ConnMean"))


def record_history(scenario: Scenario, days: float = 1.0, granularity_s: float = 60.0,
                   noise_seed: int | None = None) -> pd.DataFrame:
    """Per-cell KPM history over the ``days`` before ``scenario.start``.

    Parameters
    ----------
    scenario
        The scenario whose cells and traffic are recorded.
    days
        Length of the history; it ends where the scenario starts. The traffic trace repeats after
        ``traffic.days``, so a history longer than ``traffic.days`` minus the scenario's duration
        would cover the simulated period again (refused).
    granularity_s
        Reporting period; a multiple of the scenario's tick.
    noise_seed
        Seed of the short-term load fluctuation (default: one that differs from the live run's).

    Returns
    -------
    pandas.DataFrame
        Tidy table (``cell_id`` = the cell's NR CGI key as the xApps see it, ``timestamp`` = start
        of the period, ``prb_util`` = PrbUsedDl / PrbAvailDl in %, ``active_ues`` = RRC.ConnMean),
        ready for :class:`ranml.telemetry.table.TelemetryTable`.

    Raises
    ------
    ConfigError
        ``days`` or ``granularity_s`` out of range.
    """
    tick = seconds(scenario.tick)
    span_s = days * 86400.0
    period_ratio = granularity_s / tick
    if granularity_s <= 0 or abs(period_ratio - round(period_ratio)) > 1e-9:
        raise ConfigError(f"history: granularity_s={granularity_s} must be a positive multiple of the tick ({tick} s)")
    free_s = seconds(f"{scenario.traffic.days}D") - seconds(scenario.duration)
    if span_s <= 0 or span_s > free_s + 1e-9:
        raise ConfigError(f"history: days={days} must be > 0 and at most {free_s / 86400:g} (the traffic trace's "
                          f"{scenario.traffic.days} days minus the scenario's duration), else it repeats the run")
    layout = build_layout(scenario)
    seed = scenario.traffic.seed + 1_000_003 if noise_seed is None else noise_seed
    network = build_network(scenario, layout, noise_seed=seed)
    network.trace_offset_s -= span_s
    periods, per = round(span_s / granularity_s), round(period_ratio)
    util = np.empty((periods, len(layout.cells)))
    ues = np.empty_like(util)
    for k in range(periods):
        before = network.integral.copy()
        for _ in range(per):
            network.step(tick)
        delta = (network.integral - before) / granularity_s
        used, avail = np.rint(delta[_USED]), np.rint(delta[_AVAIL])
        util[k] = np.divide(used, avail, out=np.full_like(used, np.nan), where=avail > 0) * 100.0
        ues[k] = np.rint(delta[_CONN])
    start = pd.Timestamp(scenario.start) - pd.Timedelta(seconds=span_s)
    times = pd.date_range(start, periods=periods, freq=pd.Timedelta(seconds=granularity_s))
    keys = [cgi.text() for cgi in layout.cgis]
    return pd.DataFrame({
        "cell_id": np.repeat(keys, periods),
        "timestamp": np.tile(times.to_numpy(), len(keys)),
        "prb_util": util.T.ravel(),
        "active_ues": ues.T.ravel(),
    })
