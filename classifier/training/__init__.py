"""Training: the loop with live metrics, schedules and time budgets, augmentation, the lab, transfer learning, a run."""
