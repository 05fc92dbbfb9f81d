"""Store findings in the warehouse: one commit per detector run, idempotent, updates by appending.

A run's findings are committed together under a source id derived from their content, so running a
detector again on the same data stores nothing new. Run on grown data, a detector finds the same findings
(same `finding_id`) with later `last_seen` and more evidence: the `findings` view shows the latest of each.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence

import pyarrow as pa

from dnsvigil.findings import Finding
from dnsvigil.store.schema import FINDINGS
from dnsvigil.store.warehouse import Warehouse


def store_findings(warehouse: Warehouse, findings: Sequence[Finding], *, run: str) -> int:
    """Commit `findings` to the `findings` table; return how many rows were stored (0 when already stored).

    Args:
        warehouse: where to store them.
        findings: one detector run's findings.
        run: what produced them (detector and its settings), recorded as the commit's origin.
    """
    if not findings:
        return 0
    records = sorted((finding.to_record() for finding in findings), key=lambda record: record["finding_id"])
    content = json.dumps(records, sort_keys=True, default=str)
    source_id = hashlib.sha256(f"findings\0{run}\0{content}".encode()).hexdigest()
    by_day: dict[str, list[dict[str, object]]] = defaultdict(list)
    for record in records:
        by_day[record["first_seen"].date().isoformat()].append(record)
    with warehouse.begin(FINDINGS.name) as write:
        for day, rows in sorted(by_day.items()):
            write.write(pa.Table.from_pylist(rows, schema=FINDINGS.schema), day)
        return len(records) if write.commit(source_id, origin=run) else 0
