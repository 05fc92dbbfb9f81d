"""`DDOS.AMPLIFICATION`: DNS servers used to reflect amplified traffic at a victim.

The attacker sends small UDP queries with the victim's address as their source, asking for large
answers (ANY, TXT, DNSKEY, signed zones); the server sends the answers to the victim. In a capture taken
at the server, the "client" of those queries is the victim: many responses to one address, each many
times the size of its query. The factor measured is mean response size / mean query size for that
address (US-CERT TA14-017A puts DNS at 28 to 54); where the capture holds the responses without their
queries (taken on the victim's side, or a response-only dnstap), the query size is estimated from the
name: header, question and an EDNS OPT record, which amplification queries carry to get large answers.

Only UDP counts: a TCP peer has completed a handshake, so its address is not spoofed. Windows whose
responses are mostly NXDOMAIN are no reflection either: an attacker wants large positive answers, while a
resolver relaying a random-subdomain flood against a signed zone gets large NSEC3 denials (700 bytes to a
45-byte query) to questions it really asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner
from dnsvigil.traffic.detection import (
    Crossing,
    EpisodeTimes,
    Row,
    TimeWindow,
    crossings_evidence,
    episodes,
    parts_cte,
    window_number_sql,
)
from dnsvigil.traffic.distinct_sketch import distinct_sql
from dnsvigil.traffic.dns_names import qtype_to_text

DETECTOR = "traffic.amplification"
ABUSED_QTYPES = (255, 16, 48)
"""ANY, TXT and DNSKEY: the query types that give the largest answers for the smallest question."""
LARGE_RESPONSE_BYTES = 4096
MAX_NXDOMAIN_SHARE = 0.5  # above it, the answers are denials to real questions, not reflected payloads
ESTIMATED_QUERY_OVERHEAD = 29
"""Bytes of a query beside its name's text: header 12, name framing 2, type and class 4, OPT record 11."""

AMPLIFICATION = register_code(
    FindingCode(
        "DDOS.AMPLIFICATION",
        "DNS amplification reflected at an address",
        "Many UDP responses, each many times the size of its query, sent to one address that the "
        "queries claimed as their source: a reflection and amplification attack on that address.",
        ("https://www.cisa.gov/news-events/alerts/2014/01/17/udp-based-amplification-attacks",),
    )
)

_UDP_SQL = (
    "SELECT ts, {bucket} AS bucket, qr, src_addr, msg_len, tc, qtype, coalesce(qname, '') AS qname,"
    " rcode, CASE WHEN qr THEN dst_addr ELSE src_addr END AS victim FROM dns_messages"
    " WHERE {where} AND NOT malformed AND lower(CAST(transport AS VARCHAR)) = 'udp'"
)

_PARTS_SQL = f"""
SELECT victim, bucket, count(*) FILTER (WHERE qr) AS responses,
       coalesce(sum(msg_len) FILTER (WHERE qr), 0)::BIGINT AS response_bytes,
       count(*) FILTER (WHERE NOT qr) AS queries,
       coalesce(sum(msg_len) FILTER (WHERE NOT qr), 0)::BIGINT AS query_bytes,
       coalesce(sum(length(qname)) FILTER (WHERE qr), 0)::BIGINT AS name_characters,
       count(*) FILTER (WHERE qr AND qtype IN {ABUSED_QTYPES}) AS abused_qtype_responses,
       count(*) FILTER (WHERE qr AND msg_len >= {LARGE_RESPONSE_BYTES}) AS large_responses,
       count(*) FILTER (WHERE qr AND tc) AS truncated_responses,
       count(*) FILTER (WHERE qr AND rcode = 3) AS nxdomain_responses,
       epoch_ns(min(ts)) AS first_ns, epoch_ns(max(ts)) AS last_ns
FROM ({{udp}}) GROUP BY victim, bucket
"""

_WINDOWS_SQL = """
WITH {parts}merged AS (
    SELECT victim, bucket, sum(responses)::BIGINT AS responses, sum(response_bytes)::BIGINT AS response_bytes,
           sum(queries)::BIGINT AS queries, sum(query_bytes)::BIGINT AS query_bytes,
           sum(name_characters)::BIGINT AS name_characters,
           sum(abused_qtype_responses)::BIGINT AS abused_qtype_responses,
           sum(large_responses)::BIGINT AS large_responses,
           sum(truncated_responses)::BIGINT AS truncated_responses,
           sum(nxdomain_responses)::BIGINT AS nxdomain_responses, min(first_ns) AS first_ns,
           max(last_ns) AS last_ns
    FROM parts GROUP BY victim, bucket HAVING sum(responses) >= ?)
SELECT victim, bucket, responses, response_bytes, queries, query_bytes,
       name_characters / responses AS mean_name_length,
       abused_qtype_responses, large_responses, truncated_responses, nxdomain_responses, first_ns, last_ns
FROM merged
"""
"""Window rows from `parts` (of one count or several; `{parts}` defines it when counted in the same
statement)."""

_NAMES_SQL = """
SELECT qname, qtype, count(*) FILTER (WHERE qr) AS responses,
       round(avg(msg_len) FILTER (WHERE qr), 1) AS mean_response_bytes,
       round(avg(msg_len) FILTER (WHERE NOT qr), 1) AS mean_query_bytes
FROM ({udp}) WHERE victim = ? GROUP BY qname, qtype ORDER BY responses DESC, qname, qtype LIMIT ?
"""

_REFLECTORS_SQL = """
SELECT src_addr AS reflector, count(*) AS responses FROM ({udp}) WHERE qr AND victim = ?
GROUP BY src_addr ORDER BY responses DESC, reflector LIMIT ?
"""

_NAME_SOURCES_SQL = f"""
WITH asking AS (SELECT victim FROM ({{udp}}) WHERE qname = ? AND qtype = ?)
SELECT {distinct_sql("victim", "asking")} AS sources
"""


def _udp_sql(window: TimeWindow, window_seconds: int) -> tuple[str, list[object]]:
    where, params = window.where()
    return _UDP_SQL.format(bucket=window_number_sql(window_seconds), where=where), params


def _factor(row: Row) -> tuple[float, bool]:
    """Mean response size over mean query size, and whether the query size was measured."""
    mean_response = row["response_bytes"] / row["responses"]
    if row["queries"]:
        return mean_response / (row["query_bytes"] / row["queries"]), True
    return mean_response / (row["mean_name_length"] + ESTIMATED_QUERY_OVERHEAD), False


@dataclass(frozen=True, slots=True, kw_only=True)
class AmplificationDetector:
    """Finds addresses that DNS responses were reflected at, amplified; both thresholds per window.

    Attributes:
        window_seconds: width of a counting window.
        min_responses: UDP responses sent to the address in a window.
        min_factor: mean response size over mean query size.
        top: names and reflecting servers kept in the evidence.
    """

    window_seconds: int
    min_responses: int
    min_factor: int
    top: int = 5

    def __post_init__(self) -> None:
        if min(self.window_seconds, self.min_responses, self.min_factor) < 1:
            raise ValueError(f"{self!r}: window, responses and factor must be at least 1")

    def detect(self, runner: SqlRunner, window: TimeWindow) -> list[Finding]:
        """The addresses amplified responses were reflected at in `window`, one finding per episode."""
        return self.judge(runner, self.window_rows(runner, window))

    def window_rows(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """Per address and window: UDP responses and queries sent its way, their bytes and kinds."""
        udp, params = _udp_sql(window, self.window_seconds)
        parts = parts_cte(_PARTS_SQL.format(udp=udp))
        return runner.arrow(_WINDOWS_SQL.format(parts=parts), [*params, self.min_responses])

    def window_parts(self, runner: SqlRunner, window: TimeWindow) -> pa.Table:
        """The counts of `window` in parts that merge: per address and window, sums of UDP messages."""
        udp, params = _udp_sql(window, self.window_seconds)
        return runner.arrow(_PARTS_SQL.format(udp=udp), params)

    def window_rows_of(self, runner: SqlRunner, parts: pa.Table) -> pa.Table:
        """`window_rows` from `window_parts`' tables, concatenated."""
        return runner.arrow(_WINDOWS_SQL.format(parts=""), [self.min_responses], tables={"parts": parts})

    def judge(self, runner: SqlRunner, rows: pa.Table) -> list[Finding]:
        """The reflections among `rows`: both thresholds crossed and mostly positive answers."""
        flagged = [
            row
            for row in rows.to_pylist()
            if all(crossing.crossed for crossing in self._crossings(row))
            and row["nxdomain_responses"] <= row["responses"] * MAX_NXDOMAIN_SHARE
        ]
        return [self._finding(runner, run) for run in episodes(flagged, key=lambda row: str(row["victim"]))]

    def _crossings(self, row: Row) -> list[Crossing]:
        return [
            Crossing("amplification_min_responses", self.min_responses, row["responses"]),
            Crossing("amplification_min_factor", self.min_factor, _factor(row)[0]),
        ]

    def _finding(self, runner: SqlRunner, run: list[Row]) -> Finding:
        victim = str(run[0]["victim"])
        peak = max(run, key=lambda row: (row["response_bytes"], -row["bucket"]))
        times = EpisodeTimes.of(run)
        span = times.window
        udp, params = _udp_sql(span, self.window_seconds)
        names = runner.arrow(_NAMES_SQL.format(udp=udp), [*params, victim, self.top]).to_pylist()
        reflectors = runner.arrow(_REFLECTORS_SQL.format(udp=udp), [*params, victim, self.top]).to_pylist()
        (name_sources,) = runner.arrow(
            _NAME_SOURCES_SQL.format(udp=udp), [*params, names[0]["qname"], names[0]["qtype"]]
        ).to_pylist()
        total = {
            key: sum(row[key] for row in run)
            for key in (
                "responses",
                "response_bytes",
                "queries",
                "query_bytes",
                "abused_qtype_responses",
                "large_responses",
                "truncated_responses",
            )
        }
        factor, measured = _factor(peak)
        return Finding(
            code=AMPLIFICATION.code,
            subject_type=SubjectType.IP,
            subject=victim,
            severity=Severity.HIGH,
            # An estimated query size makes the factor, and so the finding, less certain.
            confidence=0.9 if measured else 0.7,
            first_seen=times.first_seen,
            last_seen=times.last_seen,
            detector=DETECTOR,
            evidence={
                "victim": victim,
                "amplification_factor": round(factor, 2),
                "query_size_measured": measured,
                "window_seconds": self.window_seconds,
                "windows": len(run),
                "peak_response_bytes_per_second": round(peak["response_bytes"] / self.window_seconds, 1),
                **total,
                "abused_qtype_share": round(total["abused_qtype_responses"] / total["responses"], 4),
                "top_names": [
                    {**row, "qtype": qtype_to_text(row["qtype"]) if row["qtype"] is not None else None}
                    for row in names
                ],
                "top_name_sources": name_sources["sources"],
                "reflectors": reflectors,
                "thresholds": crossings_evidence(self._crossings(peak)),
            },
        )
