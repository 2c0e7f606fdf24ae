"""hourglass_plugin.apis."""
