"""Numbers and networks on the host: Q formats, the bit-exact reference model, lookup tables, data sets, host
training, learning verdicts.
"""
