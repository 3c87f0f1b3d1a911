"""The course's own tools, at the bottom of the package: the one rule for numbers and labels
(``validate``), tensors as text (``text``), hand-vs-computed tables (``check``), the library's
source in a notebook (``source``), the notebook setup (``notebook``), the self-check
(``exercises``) and the runner it shares with the teacher's grader (``runner``).
"""
