"""What waits in a plan's inbox: files to ingest, and files to skip (locks, sync temporaries).

Every file in the inbox is either ingested (and leaves it, accepted or refused with a receipt)
or skipped with a receipt saying why; none is ignored silently, dotfiles included. Skipped
files stay: a lock file goes away when its workbook is closed, a temporary becomes the real
file when its download or sync ends. Folders are not files: `inbox/<plan>/` belongs to a plan.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from datetime import date
from pathlib import Path

from kpi.ingest.text import clip, display_name

_LOCK = "是Excel、WPS或LibreOffice打开工作簿时生成的锁定文件，不是报送文件，已跳过（关闭工作簿后自动消失）"
_PARTIAL = "是下载或同步尚未完成的临时文件，已跳过（完成后以正式文件名出现时再处理）"
_SYNC = "是同步软件或操作系统生成的辅助文件，不是报送文件，已跳过"
# (pattern on the lower-cased name, why): the first that matches decides. Anything else is
# ingested, and refused with a reason if it is not a spreadsheet.
SKIPPED: tuple[tuple[str, str], ...] = (
    ("~$*", _LOCK),  # Excel and WPS owner files (~$book.xlsx)
    (".~lock.*#", _LOCK),  # LibreOffice
    ("*.tmp", _PARTIAL),  # Office autosave, Syncthing (~syncthing~*.tmp, .syncthing.*.tmp)
    ("*.temp", _PARTIAL),
    ("*.crdownload", _PARTIAL),  # Chrome, Edge
    ("*.part", _PARTIAL),  # Firefox
    ("*.partial", _PARTIAL),
    ("*.download", _PARTIAL),  # Safari
    ("*.downloading", _PARTIAL),  # Baidu Netdisk and others
    ("*.!sync", _PARTIAL),  # Resilio Sync
    (".sync-*", _SYNC),
    (".sync_*", _SYNC),  # Nextcloud / ownCloud journals (.sync_<id>.db, -wal, -shm)
    (".owncloudsync.log*", _SYNC),
    (".nextcloudsync.log*", _SYNC),
    (".dropbox*", _SYNC),
    (".syncthing.*", _SYNC),
    ("desktop.ini", _SYNC),
    ("thumbs.db", _SYNC),
    (".ds_store", _SYNC),
    ("._*", _SYNC),  # macOS resource forks on shared folders
)


def skip_reason(name: str) -> str | None:
    """Why a file of this name is skipped, or None when it is to be ingested."""
    lower = display_name(name).lower()
    for pattern, why in SKIPPED:
        if fnmatch.fnmatchcase(lower, pattern):
            return why
    return None


def inbox_files(cfg, plan_code: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """A plan's waiting files in arrival order (mtime, name), and the skipped ones with why.

    The plan's files are in inbox/<plan>/, and for the default plan also at the inbox's top
    level. Several plans share one warehouse but never one folder of files: a district's file
    must not be read against another district's catalogue (the department register is shared).
    Anything that is not a folder is a file here: a link or a device is refused when ingested.
    """
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    folders = [cfg.inbox / plan_code] + ([cfg.inbox] if plan_code == cfg.plan else [])
    files: list[tuple[float, str, Path]] = []
    skipped: list[tuple[Path, str]] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue  # gone while listed
            if stat.S_ISDIR(st.st_mode):
                continue
            why = skip_reason(p.name)
            if why is None:
                files.append((st.st_mtime, p.name, p))
            else:
                skipped.append((p, why))
    files.sort(key=lambda t: (t[0], t[1]))
    skipped.sort(key=lambda t: t[0].name)
    return [p for _, _, p in files], skipped


def skipped_receipt(name: str, plan: str, why: str) -> dict:
    """The receipt of a file left in the inbox: listed in the run summary, counted nowhere."""
    shown = display_name(name)
    reason = why if why.startswith("文件“") else f"文件“{clip(shown)}”{why}"
    return {
        "file": shown,
        "submission_id": None,
        "department": None,
        "status": "skipped",
        "accepted": 0,
        "rejected": [],
        "warnings": [],
        "revisions": 0,
        "unchanged": 0,
        "reason": reason,
        "refusal": None,
        "received_at": None,
        "plan": plan,
    }


def ingest_inbox(
    cfg, catalogue, *, as_of: date | None = None, run_id: str | None = None
) -> list[dict]:
    """Ingest every file in the plan's inbox in arrival order (mtime, name); each leaves it.

    Lock files and sync-client temporaries stay where they are and get a receipt with status
    "skipped" (after the others): they are listed in the run summary, never counted as files.
    """
    from kpi import clock

    as_of = as_of or clock.today(cfg.tz)
    files, skipped = inbox_files(cfg, catalogue.plan.code)
    receipts = []
    if files:
        # Reading, validating and loading are imported only when a file waits: a night with
        # an empty inbox (most nights) needs none of it (~40 ms of a quiet night's imports).
        from kpi.ingest.core import ingest_listed

        receipts = ingest_listed(cfg, catalogue, files, as_of, run_id)
    return receipts + [skipped_receipt(p.name, catalogue.plan.code, why) for p, why in skipped]
