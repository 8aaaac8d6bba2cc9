"""mlplab.search."""
