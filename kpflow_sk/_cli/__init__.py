"""Private implementation of the command-line interface (see :mod:`kpflow_sk.cli`).

One module per command group (``demo``, ``fit`` / ``analyze``, ``compare``, ``zoo``,
``tasks``), each with ``add_parser(subparsers)``; shared pieces: argument types
(:mod:`.args`), errors (:mod:`.errors`), plain-text tables (:mod:`.text`), the report of a
fitted model (:mod:`.report`) and model files (:mod:`.models`).
"""
