"""hourglass_plugin.evaluation."""
