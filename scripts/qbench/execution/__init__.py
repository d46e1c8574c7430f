"""Running an image: the emulators, the firmware's report protocol, instruction traces, cycles priced from each
core's timing table, and their independent verification.
"""
