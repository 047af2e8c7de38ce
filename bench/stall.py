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

import shutil
import subprocess
import tempfile
from pathlib import Path

from mailflow_testing import SERVICE_ADDRESS, mailbuild
from mailflow_testing.listener import HoldingListener

__all__ = ["HOSTILE_SENDER", "HoldingListener", "hostile_mail", "linked_picture_doc"]

HOSTILE_SENDER = "attacker@example.test"


def linked_picture_doc(url: str) -> bytes:
    """A Word 97 .doc whose picture is an INCLUDEPICTURE field pointing at *url* (written by
    LibreOffice itself from HTML with an <img>)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise RuntimeError("--stall needs LibreOffice (soffice) to write the hostile .doc")
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-doc-") as tmp:
        work = Path(tmp)
        (work / "form.html").write_text(
            f'<html><body><p>申请表</p><img src="{url}" width="10" height="10"></body></html>',
            encoding="utf-8")
        subprocess.run(
            [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
             "--infilter=HTML (StarWriter)", "--convert-to", "doc:MS Word 97", "--outdir",
             str(work), str(work / "form.html")],
            cwd=work, capture_output=True, timeout=120, check=True)
        return (work / "form.doc").read_bytes()


def hostile_mail(doc: bytes) -> bytes:
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=HOSTILE_SENDER, to=SERVICE_ADDRESS, subject="申请", body="见附件",
        attachments=[(f"表{i}.doc", doc, "application/msword") for i in range(20)]))
