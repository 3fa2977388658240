"""Datasets: the built-in ones, folders and zips of class folders, your own classes, batches."""
