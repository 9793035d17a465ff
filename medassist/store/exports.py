"""Files the browser downloads: each in a fresh, private temporary folder that Gradio may serve.

Gradio serves a returned file only from the working directory, the system temp folder or
`allowed_paths`; the data folder (~/.local/share/medassist) is none of these, and it must not
become web-readable. So every download (summary Markdown/JSON, conversation export, outline
MD/DOCX, references BibTeX/RIS, draft-check report) is written here instead:

    downloads = Downloads()
    path = downloads.write("summary-paper.md", text)     # -> /tmp/medassist-downloads-XXXX/YYYY/summary-paper.md
    to_docx(text, downloads.path_for("outline.docx"))     # a writer that needs a path

Each request gets its own folder (two users exporting "outline.md" never collide), folders and
files are private to this OS user (0700 / 0600), folders older than an hour are removed on the next
write (Gradio has copied the file into its own cache by then), everything is removed at exit, and
"delete all my data" calls clear(). Nothing here ever goes into the data folder.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

# The one line every export carries (summaries, conversations, outlines, draft checks).
EXPORT_MARK = ("\n_Exported from MedAssist. Identifiers (names with a title or role, addresses, dates, phones, "
               "e-mails, ID, record and insurance numbers) were redacted; a name with no such cue may remain. This "
               "supports, and does not replace, clinical judgement._\n")


def safe_name(name: str) -> str:
    """A file name without folders or odd characters (paper titles and uploads end up in names)."""
    stem, dot, ext = Path(name).name.rpartition(".")
    stem = re.sub(r"[^\w.-]+", "_", stem if dot else ext).strip("._")[:80] or "medassist"
    return f"{stem}.{ext}" if dot else stem


class Downloads:
    def __init__(self, root: str | Path | None = None, keep_s: float = 3600):
        self._root = Path(root) if root else None
        self.keep_s = keep_s

    @property
    def root(self) -> Path:
        if self._root is None or not self._root.exists():
            # mkdtemp makes the folder 0700: other OS users cannot list or read the exports.
            self._root = Path(tempfile.mkdtemp(prefix="medassist-downloads-"))
            atexit.register(shutil.rmtree, self._root, True)
        return self._root

    def path_for(self, name: str) -> Path:
        """A path in a new private folder, for writers that want a path (python-docx)."""
        self.prune()
        return Path(tempfile.mkdtemp(dir=self.root)) / safe_name(name)

    def write(self, name: str, data: str | bytes) -> Path:
        path = self.path_for(name)
        raw = data.encode("utf-8") if isinstance(data, str) else data
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        return path

    def prune(self, older_than_s: float | None = None) -> None:
        if self._root is None or not self._root.exists():
            return
        cutoff = time.time() - (self.keep_s if older_than_s is None else older_than_s)
        for d in self._root.iterdir():
            try:
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except FileNotFoundError:  # removed by another request's prune meanwhile
                pass

    def clear(self) -> None:
        """Remove every download written so far (delete all my data)."""
        self.prune(older_than_s=-1)
