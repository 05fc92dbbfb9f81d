"""`/api/v1/traffic`: traffic metrics and RSSAC002 documents, computed from the stored messages (open
data: counts only, never client addresses or query names)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from dnsvigil.traffic.overview import compute_overview
from dnsvigil.traffic.rssac002 import compute_traffic_metrics
from dnsvigil.traffic.rssac002_yaml import document_to_mapping
from dnsvigil.web.api.models import Rssac002Documents, TrafficShares, TrafficSummary
from dnsvigil.web.api.params import Since, Until, instant, stored_day
from dnsvigil.web.context import Data
from dnsvigil.web.errors import ERROR_RESPONSES, bad_parameter

router = APIRouter(prefix="/api/v1/traffic", tags=["traffic"], responses=ERROR_RESPONSES)

MAX_DAYS = 31
MAX_SERVERS = 16


@router.get("/overview", response_model=TrafficSummary, summary="Traffic overview (open data)")
def get_overview(
    data: Data,
    since: Since = None,
    until: Until = None,
    bucket_seconds: Annotated[
        int | None, Query(ge=60, le=86_400, description="Width of the volume buckets; default by span.")
    ] = None,
) -> TrafficSummary:
    """Totals, volume over time, message sizes, RCODE and QTYPE mixes of the messages in the window."""
    overview = compute_overview(
        data, start=instant("since", since), end=instant("until", until), top=1, bucket_seconds=bucket_seconds
    )
    shares = TrafficShares(
        tcp=overview.tcp_share,
        ipv6=overview.ipv6_share,
        malformed=overview.malformed_share,
        nxdomain=overview.nxdomain_share,
        edns=overview.edns_share,
        dnssec_ok=overview.do_share,
    )
    return TrafficSummary(
        first_seen=overview.first_seen,
        last_seen=overview.last_seen,
        messages=overview.messages,
        queries=overview.queries,
        responses=overview.responses,
        malformed=overview.malformed,
        edns_queries=overview.edns_queries,
        do_queries=overview.do_queries,
        shares=shares,
        bucket_seconds=overview.bucket_seconds,
        transports=list(overview.transports),
        volume=list(overview.volume),
        request_sizes=list(overview.request_sizes),
        response_sizes=list(overview.response_sizes),
        rcodes=list(overview.rcodes),
        qtypes=list(overview.qtypes),
    )


@router.get("/rssac002", response_model=Rssac002Documents, summary="RSSAC002 documents (open data)")
def get_rssac002(
    data: Data,
    service: Annotated[
        str, Query(max_length=253, description="The service's host name, e.g. a.root-servers.net.")
    ],
    day: Annotated[
        list[date], Query(description=f"UTC days (YYYY-MM-DD), 1 to {MAX_DAYS}; repeat for several.")
    ],
    server: Annotated[
        list[str] | None,
        Query(description=f"The service's addresses (up to {MAX_SERVERS}); none counts all traffic."),
    ] = None,
) -> Rssac002Documents:
    """The four RSSAC002v5 traffic metrics of the service for each day, as `dnsvigil traffic rssac002`
    publishes them (traffic-volume, traffic-sizes, rcode-volume, unique-sources)."""
    if not 1 <= len(day) <= MAX_DAYS:
        raise bad_parameter("day", f"give 1 to {MAX_DAYS} days")
    if server is not None and len(server) > MAX_SERVERS:
        raise bad_parameter("server", f"give at most {MAX_SERVERS} server addresses")
    documents = compute_traffic_metrics(
        data,
        service=service,
        server_addrs=server,
        days=[stored_day("day", value) for value in day],
    )
    return Rssac002Documents(documents=[document_to_mapping(document) for document in documents])
