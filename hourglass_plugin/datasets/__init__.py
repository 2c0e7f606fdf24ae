"""hourglass_plugin.datasets."""
