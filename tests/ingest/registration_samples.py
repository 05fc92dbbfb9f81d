"""Hand-written registration data, registrar lists, registry reports and abuse feeds shaped like real ones."""

from __future__ import annotations

import json

RDAP_EXAMPLE = {
    "objectClassName": "domain",
    "ldhName": "EXAMPLE-SHOP.COM",
    "status": ["client transfer prohibited", "server hold"],
    "events": [
        {"eventAction": "registration", "eventDate": "2024-01-02T10:20:30Z"},
        {"eventAction": "expiration", "eventDate": "2025-01-02T10:20:30Z"},
        {"eventAction": "last changed", "eventDate": "2024-01-05T00:00:00Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2024-01-06T08:00:00Z"},
    ],
    "entities": [
        {
            "objectClassName": "entity",
            "handle": "1068",
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": "1068"}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "NameCheap, Inc."]]],
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["abuse"],
                    "vcardArray": [
                        "vcard",
                        [
                            ["version", {}, "text", "4.0"],
                            ["fn", {}, "text", ""],
                            ["tel", {"type": "voice"}, "uri", "tel:+1.6613102107"],
                            ["email", {}, "text", "abuse@namecheap.com"],
                        ],
                    ],
                }
            ],
        }
    ],
    "nameservers": [
        {"objectClassName": "nameserver", "ldhName": "DNS1.REGISTRAR-SERVERS.COM"},
        {"objectClassName": "nameserver", "ldhName": "DNS2.REGISTRAR-SERVERS.COM"},
    ],
}
RDAP_MINIMAL = {"objectClassName": "domain", "ldhName": "old-site.org", "status": ["active"]}
RDAP_NOT_FOUND = {"errorCode": 404, "title": "Not Found", "description": ["Domain not found"]}
RDAP_LINES = "\n".join(
    [
        json.dumps(RDAP_EXAMPLE),
        json.dumps(RDAP_MINIMAL),
        json.dumps(RDAP_NOT_FOUND),
        '{"objectClassName": "domain", "ldhName": "cut.com", "status": [',
        json.dumps({"objectClassName": "entity", "handle": "X"}),
        json.dumps({"objectClassName": "domain", "ldhName": "bad..name.com"}),
        json.dumps(
            {
                "objectClassName": "domain",
                "ldhName": "t.com",
                "events": [{"eventAction": "registration", "eventDate": "yesterday"}],
            }
        ),
        "",
    ]
)

REGISTRATIONS_CSV = """\
domain,registrar_iana_id,created,expires,status
example.com,146,2019-03-04,2025-03-04,clientTransferProhibited|clientHold
fresh-login-verify.top,1068,2024-01-02T10:00:00Z,2025-01-02T10:00:00Z,ok
nosponsor.net,,2020-01-01,,
bad..domain.com,146,2020-01-01,2021-01-01,ok
example.org,notanumber,2020-01-01,2021-01-01,ok
too,few,fields
example.net,146,2020-13-45,2021-01-01,ok
"""

REGISTRAR_IDS = """\
ID,Registrar Name,Status,RDAP Base URL
1,Reserved for non-billable transactions where Registry Operator acts as Registrar,Reserved,
146,"GoDaddy.com, LLC",Accredited,https://rdap.godaddy.com/v1/
1068,"NameCheap, Inc.",Accredited,https://rdap.namecheap.com/
9999,Reserved for non-billable transactions where Registry Operator acts as Registrar,Reserved,
4321,Gone Registrar Ltd,Terminated,
x12,Broken,Accredited,
55,Unknown Status,Pending,
"""

TRANSACTIONS_HEADER = (
    "registrar-name,iana-id,total-domains,total-nameservers,"
    + ",".join(f"net-adds-{n}-yr" for n in range(1, 11))
    + ","
    + ",".join(f"net-renews-{n}-yr" for n in range(1, 11))
    + ",transfer-gaining-successful,transfer-gaining-nacked,transfer-losing-successful,"
    "transfer-losing-nacked,transfer-disputed-won,transfer-disputed-lost,transfer-disputed-nodecision,"
    "deleted-domains-grace,deleted-domains-nograce,restored-domains,restored-noreport,"
    "agp-exemption-requests,agp-exemptions-granted,agp-exempted-domains,attempted-adds"
)


def transactions_row(name: str, iana_id: str, total: int, adds: tuple[int, ...] = (10, 2)) -> str:
    net_adds = list(adds) + [0] * (10 - len(adds))
    renews = [5] + [0] * 9
    tail = [3, 0, 1, 0, 0, 0, 0, 4, 6, 1, 0, 0, 0, 0, 20]
    values = [total, total * 2, *net_adds, *renews, *tail]
    return ",".join([f'"{name}"', iana_id, *map(str, values)])


TRANSACTIONS = "\n".join(
    [
        TRANSACTIONS_HEADER,
        transactions_row("GoDaddy.com, LLC", "146", 1000),
        transactions_row("NameCheap, Inc.", "1068", 500, (40,)),
        transactions_row("Broken", "abc", 5),
        "Short,1,2",
        "Totals,," + ",".join(["1505"] * 38),
        "",
    ]
)

URLHAUS = """\
################################################################
# abuse.ch URLhaus Database Dump (CSV)                         #
# Last updated: 2024-01-02 10:00:00 (UTC)                      #
################################################################
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"2763141","2024-01-02 09:55:06","http://malware-drop.example.com/bins/x86","online","2024-01-02 09:55:06","malware_download","elf,mirai","https://urlhaus.abuse.ch/url/2763141/","abuse_ch"
"2763140","2024-01-02 09:50:01","http://192.0.2.10:8080/i","offline","","malware_download","32-bit,elf","https://urlhaus.abuse.ch/url/2763140/","geenensp"
"2763139","2024-01-01 23:00:00","https://files.user.blogspot.com/payload.exe","offline","2024-01-02 01:00:00","malware_download","exe","https://urlhaus.abuse.ch/url/2763139/","anonymous"
"2763138","2024-01-01 22:00:00","http://bad host/x","online","","malware_download","","https://urlhaus.abuse.ch/url/2763138/","anonymous"
"2763137","2024-01-01 21:00:00","http://cryptojack.example.net/m","online","","cryptomining","","https://urlhaus.abuse.ch/url/2763137/","anonymous"
"2763136","2024-01-01 21:00:00","http://short.example/"
"""

PHISHTANK = """\
phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target
8412345,https://secure-login.paypa1-verify.com/signin?id=1,http://www.phishtank.com/phish_detail.php?phish_id=8412345,2024-01-02T08:00:00+00:00,yes,2024-01-02T08:30:00+00:00,yes,PayPal
8412346,http://www.bank-update.co.uk/a/b/c,http://www.phishtank.com/phish_detail.php?phish_id=8412346,2024-01-02T07:00:00+00:00,yes,2024-01-02T07:10:00+00:00,no,Other
8412347,http://pending.example.com/,http://www.phishtank.com/phish_detail.php?phish_id=8412347,2024-01-02T06:00:00+00:00,no,,yes,Other
8412348,http://when.example.com/,http://x,not-a-time,yes,,yes,Other
"""

OPENPHISH = """\
https://login-microsoftonline.example-secure.com/common/oauth2
http://xn--pypal-4ve.com/signin
https://docs.google.com/forms/d/e/1FAIpQL/viewform
http://203.0.113.7/wp/login.php
not a url at all
"""

DBL = """\
domain,return_code
spam-pills.example.com,127.0.1.2
phish.example.net,127.0.1.4
hacked-blog.example.org,127.0.1.104
cnc.example.info,6
weird.example.com,127.0.1.255
"""

GENERIC = """\
indicator,threat,first_seen,last_seen,source
evil-login.example.com,phishing,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,partner-cert
http://c2.example.net:443/gate.php,C&C,2024-01-01,,
spam.example.org,spam,,,partner-cert
odd.example.com,cryptomining,,,partner-cert
"""

TOP_LIST = """1,google.com
2,www.google.com
3,example.org
4,not a name
5,192.0.2.7
"""
"""An Umbrella-style top list: host names, one of them not a name, one an address."""
