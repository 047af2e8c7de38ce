"""The archive as records (issue 17): what archivists and auditors retrieve and prove.

chain.py seals the audit trail into a hash chain; index.py keeps one search document per
request; search.py finds records; timeline.py assembles one record's whole story; export.py
writes it as a self-contained bundle; verify.py proves files and chain intact; retention.py
lists expired records and deletes them only when an archivist confirms.
"""
