"""Built-in dApps."""
