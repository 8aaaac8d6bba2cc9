"""mlplab.training.runners."""
