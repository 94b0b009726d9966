"""GRU forecaster."""

from ranml.benchmark.models._rnn import RecurrentForecaster

__all__ = ["GRU"]


class GRU(RecurrentForecaster):
    """Stacked GRU over the input window; the last hidden state maps to the horizon."""

    name = "gru"
    cell = "gru"
