"""Built-in rApps."""
