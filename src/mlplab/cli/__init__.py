"""mlplab.cli."""
