"""On-demand benchmark of mailflow against a throwaway Dovecot and SMTP server (issue 7).

Run ``.venv/bin/python -m bench --help``. Not part of the test suite (tests never import
it); results land in ``bench/results/<timestamp>.json`` so runs can be compared.
"""
