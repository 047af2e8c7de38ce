"""Issue 20's hostile office file, for the tests and the benchmark: a real Word 97 .doc whose
picture is linked (INCLUDEPICTURE) to a URL, written by LibreOffice itself from HTML with an
<img>, and the mail that carries many copies of it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mailflow_testing import SERVICE_ADDRESS, mailbuild

DOC_MIME = "application/msword"


def linked_picture_doc(url: str, workdir: Path) -> bytes:
    """A .doc whose picture LibreOffice fetches from *url* when it converts the file;
    *workdir* (made if missing) holds the HTML, the LibreOffice profile and the result."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise RuntimeError("LibreOffice (soffice) is needed to write the linked .doc")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "form.html").write_text(
        f'<html><body><p>申请表</p><img src="{url}" width="10" height="10"></body></html>',
        encoding="utf-8")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(workdir / 'profile').as_uri()}", "--headless",
         "--infilter=HTML (StarWriter)", "--convert-to", "doc:MS Word 97", "--outdir",
         str(workdir), str(workdir / "form.html")],
        cwd=workdir, capture_output=True, timeout=120, check=True)
    return (workdir / "form.doc").read_bytes()


def copies_mail(doc: bytes, sender: str, copies: int = 20, to: str = SERVICE_ADDRESS) -> bytes:
    """A mail from *sender* carrying *copies* of *doc* as 表0.doc, 表1.doc, …"""
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=sender, to=to, subject="申请", body="见附件",
        attachments=[(f"表{i}.doc", doc, DOC_MIME) for i in range(copies)]))
