"""Where trainings run: this process, local worker processes, or a Ray cluster (choice.py picks one)."""
