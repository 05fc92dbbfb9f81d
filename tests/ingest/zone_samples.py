"""Hand-written zone files in the shapes real ones take: CZDS dumps and BIND-style master files."""

from __future__ import annotations

CZDS_STYLE = """\
com.\t900\tin\tsoa\ta.gtld-servers.net. nstld.verisign-grs.com. 1704153600 1800 900 604800 86400
com.\t172800\tin\tns\ta.gtld-servers.net.
com.\t172800\tin\tns\tb.gtld-servers.net.
example.com.\t172800\tin\tns\ta.iana-servers.net.
example.com.\t172800\tin\tns\tb.iana-servers.net.
example.com.\t86400\tin\tds\t370 13 2 be74359954660069d5c63d200c39f5603827d7dd02b56f120ee9f3a86764247c
a.gtld-servers.net.\t172800\tin\ta\t192.5.6.30
xn--bcher-kva.com.\t172800\tin\tns\tns1.example.net.
xn--bcher-kva.com.\t172800\tin\tns\tns2.example.net.
shop-online24.com.\t172800\tin\tns\tdns1.registrar-servers.com.
"""

BIND_STYLE = """\
; a BIND-style zone with every feature of RFC 1035 section 5.1
$ORIGIN example.
$TTL 1h
@\tIN\tSOA\tns1.nic.example. hostmaster.nic.example. (
\t\t2024010201 ; serial
\t\t7200       ; refresh
\t\t3600 1209600 3600 )
\tIN\tNS\tns1.nic.example.
@\t3600 IN NS\tns2.nic.example.
alpha\t86400\tIN\tNS\tns1.alpha
\tIN\t86400\tNS\tns2.alpha.example.   ; blank owner: alpha again, class before TTL
BETA.example.\tNS\tns.beta.example.
gamma\tIN\tTXT\t"v=spf1 -all ; not a comment ( nor a parenthesis" "say \\"hi\\""
gamma\tNS\tns.elsewhere.net.
ns1.alpha\tA\t192.0.2.1
semi\\;colon\tNS\tns.x.net.
\\068elta\tNS\tns.x.net.
$ORIGIN sub.example.
deep\tNS\tns.deep
beta.example.\tNS\tns2.beta.example. ; again, not adjacent: still one delegation
"""
BIND_DELEGATIONS = [
    "alpha.example",
    "beta.example",
    "gamma.example",
    "semi\\059colon.example",
    "delta.example",
    "deep.sub.example",
]

DAMAGED = """\
$ORIGIN example.
good\tNS\tns.good.net.
\tNS\tns2.good.net.
bad..name\tNS\tns.x.net.
noType\t3600\tIN
junk\t3600\tIN\t#$%\tx
nodata\tIN\tNS
twoTargets\tNS\ta.net. b.net.
ttl\t12x\tIN\tNS\tns.x.net.
other.net.\tNS\tns.x.net.
stray\tNS\tns.x.net. )
quote\tTXT\t"unterminated
$INCLUDE other.zone
$ORIGIN
bin\x01ary\tNS\tns.x.net.
last\tNS\tns.last.net.
unclosed\tNS\t( ns.x.net.
"""
DAMAGED_REASONS = {
    "bad_owner_name": 1,
    "missing_type": 1,
    "bad_type": 1,
    "missing_rdata": 1,
    "bad_ns_rdata": 1,
    "bad_ttl": 1,
    "outside_zone": 1,
    "unbalanced_parenthesis": 2,
    "unterminated_quote": 1,
    "unsupported_directive": 1,
    "bad_directive": 1,
    "bad_character": 1,
}
