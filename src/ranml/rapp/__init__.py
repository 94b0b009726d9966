"""rApp runtime for the Non-RT RIC (> 1 s loops): O1 telemetry in (VES events, PM files), A1 policies out.

``RApp`` is the app object, ``RAppRunner`` runs it (``ranml rapp run module:app``), ``A1Client``
talks A1-P v2. Built-in: ``energy-saving-planner`` (day-ahead sleep schedules).
"""

from ranml.rapp.a1client import A1Client
from ranml.rapp.app import RApp, load_rapp
from ranml.rapp.context import RAppContext
from ranml.rapp.runner import RAppRunner

__all__ = ["A1Client", "RApp", "RAppContext", "RAppRunner", "load_rapp"]
