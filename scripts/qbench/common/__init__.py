"""Paths of the checkout, the schema base every input file is read through, child processes."""
