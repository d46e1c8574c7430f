"""The qbench command line."""
