"""Teacher tools: the student edition and the grader, made from the one course source.

Not part of the student edition. Run from the course root as ``make student`` and
``make grade DIR=...`` (or ``PYTHONPATH=tools python -m teacher --help``).
"""
