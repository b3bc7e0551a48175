"""Training, evaluation and model cards for framepred (not part of the installed library).

Imported as a package, ``train.evaluate``, ``train.model_card`` etc., never as loose top-level names
(``evaluate`` would shadow the PyPI package of that name). Each script runs either way:
``python -m train.train ...`` from the repository root, or ``python train/train.py ...``; run by
path, a script that imports its siblings first puts the repository root at the head of
``sys.path`` in place of train/ (what ``python -m`` does), so that ``train`` is this package.
"""
