"""``gateway import FILE.json``: load departments, citizens (with their MobilePay accounts), claims and ledger
entries from the municipality's debtor system (format: docs/import-format.md).

- jsonfile.py: the file's bytes to JSON (``line L, column C`` for what cannot be read);
- schema.py: the format as pydantic models;
- validation.py: every problem with its JSON path (``citizens[3].claims[0].entries[2].amount``), in document
  order, including the checks across records;
- write.py: the checks against the database and the batched upserts, in one transaction; the seeds use it too;
- run.py: the command, all or nothing; re-importing the same file changes nothing.

A CPR number is never part of a problem's message or location (the citizen's index is), and database error
texts (which may quote key values) are never passed on.
"""

from adapters.ledger.importer.jsonfile import parse_json
from adapters.ledger.importer.report import ImportCounts, ImportProblem, ImportReport, RowCounts
from adapters.ledger.importer.run import import_document, run_import_file
from adapters.ledger.importer.schema import FORMAT_NAME, FORMAT_VERSION, ImportDocument
from adapters.ledger.importer.validation import Validation, validate, validate_document
from adapters.ledger.importer.write import apply

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ImportCounts",
    "ImportDocument",
    "ImportProblem",
    "ImportReport",
    "RowCounts",
    "Validation",
    "apply",
    "import_document",
    "parse_json",
    "run_import_file",
    "validate",
    "validate_document",
]
