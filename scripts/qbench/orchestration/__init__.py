"""The pipeline as tasks: cache, executors (threads or dask), the cell graph, streaming results, design-space
exploration.
"""
