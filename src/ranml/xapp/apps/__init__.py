"""The built-in forecasting xApps: traffic steering and energy saving."""
