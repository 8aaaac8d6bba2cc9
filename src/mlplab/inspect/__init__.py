"""mlplab.inspect."""
