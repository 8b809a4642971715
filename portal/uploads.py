"""Evidence files in the portal: checked as the appeals service checks them, and held safely between pages.

Checking. A file is accepted when its *content* is a PDF, a JPEG or a PNG (``appeals.services.sniff`` reads
the first bytes; the name is never trusted), it is not empty, it is at most ``APPEALS_EVIDENCE_MAX_BYTES``
(10 MB), and the case would not have more than ``APPEALS_EVIDENCE_MAX_FILES`` (10). These are the service's
own rules and limits, so a file accepted here is accepted when the appeal is sent. Each refused file is
named with the reason, in the person's language; the other files and everything typed are kept.

Reading. ``CappedUploadHandler`` writes at most limit + 1 bytes of each uploaded file to a temporary file and
only counts the rest, so a huge upload never fills the disk or the memory. Views set it before the request
body is read (``use_capped_uploads``, with CSRF checked after: see ``views_journeys``).

Holding. Between pages a journey's accepted files live in a private folder under ``MEDIA_ROOT``
(``portal-uploads/<random id of this session's space>/``, folders 0700, files 0600), outside the web root
and served by no URL. The session keeps only their names, sizes and random ids. They are attached to the
appeal or dispute when it is sent (and the held copies deleted), deleted when the person removes them or
signs out, and swept after ``PORTAL_UPLOAD_HOURS`` (24) by ``manage.py portal_purge_uploads``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest

from appeals.services import evidence_max_bytes, evidence_max_files, sniff

HELD_DIR = "portal-uploads"
SPACE_KEY = "portal_upload_space"
_ID = re.compile(r"^[0-9a-f]{32}$")
_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


# ------------------------------------------------------------------------------------------ reading


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Keeps at most ``evidence_max_bytes() + 1`` bytes of each file; ``size`` is the file's real size."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.limit = evidence_max_bytes() + 1
        self.kept = 0
        self.seen = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.seen += len(raw_data)
        room = self.limit - self.kept
        if room > 0:
            part = raw_data[:room]
            self.file.write(part)
            self.kept += len(part)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        self.file.seek(0)
        self.file.size = self.seen
        return self.file


def use_capped_uploads(request: HttpRequest) -> None:
    """Call before anything reads ``request.POST`` or ``request.FILES``."""
    request.upload_handlers = [CappedUploadHandler(request)]


# ------------------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Accepted:
    name: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Refused:
    name: str
    code: str  # "empty", "too-large", "wrong-type", "too-many"


def clean_name(name: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (name or "file")[:200]


def check_files(files: list[UploadedFile], already: int) -> tuple[list[Accepted], list[Refused]]:
    """Sort uploaded files into accepted and refused (with the reason), by the service's rules."""
    limit, most = evidence_max_bytes(), evidence_max_files()
    accepted: list[Accepted] = []
    refused: list[Refused] = []
    for f in files:
        name = clean_name(str(f.name or ""))
        f.seek(0)
        content = f.read(limit + 1)
        size = max(int(f.size or 0), len(content))
        if size == 0:
            refused.append(Refused(name, "empty"))
            continue
        if size > limit:
            refused.append(Refused(name, "too-large"))
            continue
        kind = sniff(content)
        if kind is None:
            refused.append(Refused(name, "wrong-type"))
            continue
        if already + len(accepted) >= most:
            refused.append(Refused(name, "too-many"))
            continue
        accepted.append(Accepted(name, content, kind[0]))
    return accepted, refused


# ------------------------------------------------------------------------------------------ holding


def _root() -> Path:
    return Path(settings.MEDIA_ROOT) / HELD_DIR


def _space(request: HttpRequest, *, create: bool) -> Path | None:
    space = request.session.get(SPACE_KEY)
    if not (isinstance(space, str) and _ID.match(space)):
        if not create:
            return None
        space = secrets.token_hex(16)
        request.session[SPACE_KEY] = space
    folder = _root() / space
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _path(folder: Path, record: dict[str, Any]) -> Path | None:
    file_id, ext = str(record.get("id", "")), _EXTENSIONS.get(str(record.get("type", "")))
    if not _ID.match(file_id) or ext is None:
        return None
    return folder / f"{file_id}{ext}"


def hold(request: HttpRequest, files: list[Accepted]) -> list[dict[str, Any]]:
    """Write accepted files to this session's private space; answer the records the session keeps."""
    if not files:
        return []
    folder = _space(request, create=True)
    assert folder is not None  # noqa: S101 - created above
    records = []
    for f in files:
        record = {"id": secrets.token_hex(16), "name": f.name, "size": len(f.content), "type": f.content_type}
        path = _path(folder, record)
        assert path is not None  # noqa: S101 - a fresh id and a known type
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(f.content)
        records.append(record)
    return records


def read_held(request: HttpRequest, records: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """The held files as (name, bytes), for the service. A file that has gone missing raises
    FileNotFoundError (the page then asks the person to add it again)."""
    folder = _space(request, create=False)
    out = []
    for record in records:
        path = _path(folder, record) if folder else None
        if path is None:
            raise FileNotFoundError(str(record.get("name", "")))
        out.append((str(record["name"]), path.read_bytes()))
    return out


def drop(request: HttpRequest, records: list[dict[str, Any]]) -> None:
    folder = _space(request, create=False)
    if folder is None:
        return
    for record in records:
        path = _path(folder, record)
        if path is not None:
            path.unlink(missing_ok=True)


def drop_space(request: HttpRequest) -> None:
    """Delete everything this session holds (signing out)."""
    folder = _space(request, create=False)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def purge_stale(*, hours: int | None = None) -> int:
    """Delete held spaces nobody touched for ``hours`` (sessions that ended without sending)."""
    hours = hours if hours is not None else int(getattr(settings, "PORTAL_UPLOAD_HOURS", 24))
    root = _root()
    if not root.is_dir():
        return 0
    cutoff = time.time() - hours * 3600
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and _ID.match(folder.name):
            newest = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())])
            if newest < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed
