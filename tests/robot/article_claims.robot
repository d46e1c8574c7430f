*** Settings ***
Documentation       The claims of "A Neural Network in Under 4KB", as the article states them, one
...                 scenario per claim and library, measured by qbench on the article's core and level
...                 (Cortex-M0+, -Os) with the article's network (2-4-1, tanh hidden, sigmoid output).
...                 The verdicts come from qbench.reporting.claims (the report's claims table); each scenario
...                 fails when its claim does not hold for the measured results, with the figures in
...                 its message.
...
...                 A claim known not to hold for a library today is tagged ``known-gap`` and says why;
...                 the suite runs with ``--skiponfailure known-gap``, so such a scenario is reported as
...                 skipped with the measured reason (and as passed the day its claim holds).
...
...                 Libraries: qnn (qbench's own, after the article), and each installed peer for the
...                 claims that apply to it. emlearn, installed here, is measured by the set-up in what it
...                 computes (float32 inference on the same core and level), but every claim qbench
...                 measures is about a trainable fixed-point network (training on the device, Q16.16
...                 against Q8.8, trainable against inference-only, the trainable image on the part, the
...                 tables a trainable image links), so none applies to it and it has no scenario today;
...                 tests/test_robot_scenarios.py requires one for any claim qbench.reporting.claims comes to measure
...                 for it. A peer's scenario is skipped, saying why, where the peer is not installed.
...                 The article's own library, tinymind, is not installable here (no package, and qbench
...                 ships no adapter for it), so its scenarios, the article's library against the
...                 article's own numbers, are not possible in this suite.
...
...                 ``--variable RESULTS:DIR`` checks the claims of an existing results folder instead
...                 of running the matrix.
Resource            qbench.resource
Suite Setup         The Article's Platform Is Prepared
Test Teardown       The Evidence Is Attached If The Scenario Failed
Test Tags           core:cortex-m0plus    workload:xor


*** Test Cases ***
The Whole Trainable Neural Network Occupies Under 4 KB
    [Documentation]    "the whole neural network and associated code and data occupies under 4KB in the
    ...    final image, assuming we turn on compiler optimizations. Important: that 4KB is a trainable
    ...    network". Q16.16, -Os.
    [Tags]    claim:trainable-under-4kb    library:qnn
    The Claim Should Hold    trainable-under-4kb    qnn

The Inference-Only Footprint Is Roughly A Third Of The Trainable One
    [Documentation]    "the inference-only footprint is roughly a third of the trainable one";
    ...    "Inference-only is about a third of the code and a third of the RAM".
    [Tags]    claim:inference-about-a-third    library:qnn
    The Claim Should Hold    inference-about-a-third    qnn

A Trainable Network Fits An STM32L0 With 16 KB Of Flash And 2 KB Of RAM
    [Documentation]    "On a microcontroller like the STM32L0 (ARM Cortex-M0+) with 16 KB of flash and
    ...    2 KB of RAM, a 4KB trainable neural network consumes 25% of flash – leaving room for the
    ...    application". The whole trainable image, stack included, on an STM32L011K4.
    [Tags]    claim:fits-stm32l011k4    library:qnn
    The Claim Should Hold    fits-stm32l011k4    qnn

Q8.8 Lurches Through The XOR Saddle Point Where Q16.16 Descends Smoothly
    [Documentation]    "the coarser 1/256 grid made the learning curve lurch through the XOR saddle point
    ...    before snapping to a solution, so it was bumped to Q16.16 for a smooth, monotonic descent".
    ...
    ...    Known not to hold for qnn (tag known-gap): with the suite's seeds and training budget
    ...    qnn's Q8.8 run learns XOR in fewer iterations than its Q16.16 run, and its error rises in
    ...    a smaller share of its log intervals with a smaller roughness (1,197 against 1,352
    ...    iterations, 52 of 120 against 68 of 136 intervals when the tag was set; the message gives
    ...    today's figures). The scenario is left as the article states it, not reworded to pass.
    [Tags]    claim:q8.8-less-smooth    library:qnn    known-gap
    The Claim Should Hold    q8.8-less-smooth    qnn

Lookup Tables A Network Does Not Reference Are Never Compiled In
    [Documentation]    "LUTs we don't reference are never compiled in, so we only pay for what we use."
    [Tags]    claim:tables-only-when-used    library:qnn
    The Claim Should Hold    tables-only-when-used    qnn
