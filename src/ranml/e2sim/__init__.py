"""e2sim: simulated E2 nodes whose cells react to controls, over RMR on one machine."""

from ranml.e2sim.history import record_history
from ranml.e2sim.scenario import Scenario, load_scenario, seconds
from ranml.e2sim.simulator import Simulator

__all__ = [
    "Scenario",
    "Simulator",
    "load_scenario",
    "record_history",
    "seconds",
]
