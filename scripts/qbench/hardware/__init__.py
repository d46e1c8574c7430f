"""What qbench builds for: cores and parts (targets/), and the tools that build for them."""
