"""hourglass_plugin.engine."""
