"""hourglass_plugin.models."""
