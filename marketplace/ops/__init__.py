"""Operating Tilework: readiness and configuration checks, deploying and inspecting the vault.

Used by the HTTP edge (``/ready``) and the command line (``tilework check``, ``tilework chain …``).
"""
