"""Datasets: the catalogue (datasets.yaml), unpaired image folders, ExDark."""
