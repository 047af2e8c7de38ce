"""The hostile mail of ``--stall`` (issue 20): LibreOffice kept converting for as long as the
latency run lasts.

The mail carries 20 copies of a real Word 97 .doc whose picture is linked (INCLUDEPICTURE)
to a URL on a listener (mailflow_testing/listener.py), which accepts the connection, reads
the request and does not answer until released: issue 20's attack as it was found.
mailflow's own network sandbox would cut the link off (nothing is fetched at all), so the
run switches it off (``conversion_network_sandbox = false``, with a conversion timeout and
budget longer than the run) to get a conversion that is provably in flight during every
sample.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mailflow_testing import hostile_office
from mailflow_testing.listener import HoldingListener

__all__ = ["HOSTILE_SENDER", "HoldingListener", "hostile_mail", "linked_picture_doc"]

HOSTILE_SENDER = "attacker@example.test"


def linked_picture_doc(url: str) -> bytes:
    """The hostile .doc (mailflow_testing/hostile_office.py), written in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-doc-") as tmp:
        return hostile_office.linked_picture_doc(url, Path(tmp))


def hostile_mail(doc: bytes) -> bytes:
    return hostile_office.copies_mail(doc, HOSTILE_SENDER)
