"""Server-rendered pages for requesters, workers and reviewers, plus the ES modules they load.

Templates and static assets live inside the package (``marketplace/web/templates`` and
``marketplace/web/static``) so that ``pip install .`` carries them; the top-level ``web/`` folder of the
design notes only points here.
"""
