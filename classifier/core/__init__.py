"""The floor everything stands on: the Dataset shape, a run's settings, checked arguments, memory."""
