"""From a matrix cell to a firmware image: workloads, libraries, the matrix, the build."""
