"""Business events that cross domains, one module each: the only code that calls more than one domain.

Each flow reads top to bottom like the story it tells; the domains below it never call each other's
services nor come back up here.
"""
