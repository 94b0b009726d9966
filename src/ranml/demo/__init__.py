"""``ranml demo``: the whole chain on one machine, ending in an HTML report and ``summary.json``."""

from ranml.demo.pipeline import DemoSettings, run_demo

__all__ = ["DemoSettings", "run_demo"]
