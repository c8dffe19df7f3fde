"""Private implementation of the command-line interface (see :mod:`kpflow_sk.cli`): argument
parsing and printing only; every number printed comes from the library.

One module per command group (``demo``, ``fit`` / ``analyze``, ``compare``, ``zoo``,
``tasks``), each with ``add_parser(subparsers)``; shared pieces: argument types
(:mod:`.args`), the estimator options table (:mod:`.options`), errors (:mod:`.errors`),
plain-text tables (:mod:`.text`), the terminal tables of a model report (:mod:`.report`),
model files (:mod:`.models`) and output paths (:mod:`.paths`). Imports run one way:
commands -> shared pieces -> the library (never back up).
"""
