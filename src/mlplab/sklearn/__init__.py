"""mlplab.sklearn."""
