"""The wire formats ranml speaks, shared by the apps and the simulator.

* :mod:`~ranml.protocols.rmr`: RMR frames (SI95, librmr 4.9 compatible), route tables, and the
  asyncio RMR endpoint that sends and receives them over TCP;
* :mod:`~ranml.protocols.e2ap`: E2AP PDUs (APER), the procedures between RIC and E2 nodes;
* :mod:`~ranml.protocols.e2sm`: the service models carried in them (KPM, RC, CCC);
* :mod:`~ranml.protocols.a1policies`: the A1 policy types the apps exchange.

The codecs are pure (bytes in, typed messages out) and reject malformed input with errors that
say what is wrong; only the RMR endpoint opens sockets.
"""

from ranml.protocols import a1policies, e2ap, e2sm, rmr

__all__ = ["a1policies", "e2ap", "e2sm", "rmr"]
