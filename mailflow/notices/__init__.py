"""Notices and deadlines (issue 16): the rulebook's notices rendered from templates, sent to
the people the directory names, on the working-day calendar's deadlines."""
