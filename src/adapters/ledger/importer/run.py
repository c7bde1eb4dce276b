"""``gateway import FILE.json``: validate the whole file, then import it all or nothing in one transaction."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from adapters.ledger.db import Database
from adapters.ledger.importer.jsonfile import parse_json
from adapters.ledger.importer.report import ImportProblem, ImportReport
from adapters.ledger.importer.validation import validate
from adapters.ledger.importer.write import apply


class _Refused(Exception):
    """Raised inside the transaction to roll it back."""


async def import_document(db: Database, document: object) -> ImportReport:
    """Validate a parsed document completely, then import it all-or-nothing in one transaction."""
    validation = validate(document)
    report = ImportReport(problems=list(validation.problems), exported_at=validation.exported_at)
    try:
        async with db.transaction() as conn:
            report = await apply(conn, validation, analyze=not db.sqlite)
            if report.problems:
                raise _Refused
    except _Refused:
        return report
    except IntegrityError:
        # A concurrent writer created a conflicting row. The driver's text may quote key values (a CPR),
        # so it is not passed on.
        return ImportReport(
            problems=[
                ImportProblem("$", "the database changed during the import; nothing was written, run the import again")
            ],
            exported_at=validation.exported_at,
        )
    return report


async def run_import_file(database_url: str, path: Path) -> ImportReport:
    """Read, validate and import one file (what ``gateway import FILE`` does)."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return ImportReport(problems=[ImportProblem("file", f"cannot read the file: {exc.strerror or 'error'}")])
    document, problems = parse_json(data)
    if problems:
        return ImportReport(problems=problems)
    db = Database(database_url)
    try:
        return await import_document(db, document)
    finally:
        await db.dispose()
