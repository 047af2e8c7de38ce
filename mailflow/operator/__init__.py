"""What an operator does by hand: look at and retry the outbox, look at and release
quarantined mail, ask whether the service is healthy, export metrics. The CLI (cli_ops.py)
only presents what these modules return."""
