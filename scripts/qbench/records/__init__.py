"""The records results are made of, and the results folders they are written to and merged from."""
