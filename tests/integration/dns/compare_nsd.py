"""Compares cairn's answers with NSD's for the same zone, over UDP and TCP.

NSD (/usr/sbin/nsd, Debian's package) and a cairn agent both serve
zones/example.test.zone on loopback. Every query of corpus() goes to both, and
the rcode, the header flags (QR AA TC RD RA AD CD Z), the opcode, the question
section (exact bytes, so the case echo counts) and each section's RRs (as sets:
owner, TTL, class, type, rdata through dnspython) must match, as must the
presence, version, DO bit and options of the OPT record. The EDNS payload size
a server advertises is its own policy and is only printed.

Where NSD's behaviour is arguably wrong, the case is listed in DEVIATIONS with
the reason (and in docs/testing.md): the test then asserts cairn's behaviour
explicitly instead of NSD's.

Environment:
  CAIRN_COMPARE_SUBJECT  cairn (default) | nsd | knot -- the server compared
                         with NSD; nsd-vs-nsd checks the test itself.
  CAIRN_COMPARE_ONLY     a substring: run only cases whose label contains it.
  CAIRN_NSD_MINIMAL_RESPONSES=yes   NSD with minimal-responses: yes.
"""
import functools
import os
import struct
import sys
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

import refservers
from refservers import NoResponse

QID = 0x4A3B
MINIMAL_RESPONSES = os.environ.get("CAIRN_NSD_MINIMAL_RESPONSES", "no") == "yes"
Z_FLAG = 0x0040
FLAG_NAMES = [("QR", dns.flags.QR), ("AA", dns.flags.AA), ("TC", dns.flags.TC), ("RD", dns.flags.RD),
              ("RA", dns.flags.RA), ("Z", Z_FLAG), ("AD", dns.flags.AD), ("CD", dns.flags.CD)]
Z = "example.test."


# --- building queries ---------------------------------------------------------------

def query(name, rdtype="A", edns=None, payload=1232, options=None, dnssec=False, flags=None,
          rdclass="IN"):
    """Wire bytes of a query; edns None means no OPT record."""
    q = dns.message.make_query(name, rdtype, rdclass=rdclass, use_edns=False)
    if edns is not None:
        # set directly: make_query's want_dnssec step resets the EDNS version
        q.use_edns(edns, ednsflags=dns.flags.DO if dnssec else 0, payload=payload, options=options)
    q.id = QID
    if flags is not None:
        q.flags = flags
    return q.to_wire()


def patch_header(wire, opcode=None, qdcount=None, ancount=None, arcount=None, set_flags=0):
    """Rewrites header fields of an already built query."""
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", wire[:12])
    if opcode is not None:
        flags = (flags & ~0x7800) | (opcode << 11)
    flags |= set_flags
    qd = qd if qdcount is None else qdcount
    an = an if ancount is None else ancount
    ar = ar if arcount is None else arcount
    return struct.pack("!6H", qid, flags, qd, an, ns, ar) + wire[12:]


def two_questions():
    a = query("www." + Z)
    second = dns.name.from_text("mail." + Z).to_wire() + struct.pack("!HH", 1, 1)
    return patch_header(a + second, qdcount=2)


def question_only(name, rdtype="A"):
    return query(name, rdtype)[12:]


def with_answer_record():
    """A query that carries an RR in its answer section (ANCOUNT 1)."""
    rr = dns.name.from_text("www." + Z).to_wire() + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    return patch_header(query("www." + Z) + rr, ancount=1)


def two_opt_records():
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return patch_header(query("www." + Z) + opt + opt, arcount=2)


def opt_with_owner():
    """An OPT record whose owner is not the root (RFC 6891 6.1.2: FORMERR)."""
    opt = dns.name.from_text("www." + Z).to_wire() + struct.pack("!HHIH", 41, 1232, 0, 0)
    return patch_header(query("www." + Z) + opt, arcount=1)


def opt_bad_option_length():
    """An OPT whose one option claims more bytes than the RDATA has."""
    rdata = struct.pack("!HH", 65001, 20) + b"\x00" * 4
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(rdata)) + rdata
    return patch_header(query("www." + Z) + opt, arcount=1)


def opt_with_flags(ttl_field):
    """An OPT with the given 32-bit TTL field (extended rcode, version, flags)."""
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, ttl_field, 0)
    return patch_header(query("www." + Z) + opt, arcount=1)


class Case:
    """One query of the corpus. `expect` is an rcode both servers must give
    (a guard that the case still tests what it says, e.g. after zone edits)."""

    def __init__(self, label, wire, expect=None, transports=("udp", "tcp")):
        self.label = label
        self.wire = wire
        self.expect = expect
        self.transports = transports


def q(label, name, rdtype="A", expect=None, **kwargs):
    return Case(label, query(name, rdtype, **kwargs), expect)


QUERY_BITS = [("AA", dns.flags.AA), ("TC", dns.flags.TC), ("RD", dns.flags.RD), ("RA", dns.flags.RA),
              ("Z", Z_FLAG), ("AD", dns.flags.AD), ("CD", dns.flags.CD)]
ALL_QUERY_BITS = 0x07F0  # AA TC RD RA Z AD CD
OPCODE_NAMES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}


def header_matrix():
    """www A with each header bit alone, none and all of them, under each of
    the 16 opcodes, with and without EDNS; and RCODE bits set in the query.
    NOTIFY (opcode 4) is a deviation (notify_not_served) except where NSD
    rejects it before answering (RCODE bits: FORMERR, compared as is)."""
    c = []
    for opcode in range(16):
        name = OPCODE_NAMES.get(opcode, f"unassigned {opcode}")
        for edns in (None, 0):
            base = query("www." + Z, edns=edns, flags=0)
            suffix = ", EDNS" if edns is not None else ""
            variants = [("no flags", 0)] + QUERY_BITS + [("all flags", ALL_QUERY_BITS)]
            variants += [("RCODE 1 and RD", dns.flags.RD | 1), ("RCODE 15, RD AD CD", 0x013F)]
            for label, bits in variants:
                case = Case(f"opcode {opcode} {name}, {label}{suffix}", patch_header(base, opcode=opcode,
                                                                                   set_flags=bits))
                if opcode == 4 and not bits & 0xF:
                    DEVIATIONS[case.label] = notify_not_served
                c.append(case)
    # QR set is dropped whatever else the header says; a few suffice (each
    # waits for a timeout).
    for opcode, edns in ((0, None), (0, 0), (5, None)):
        base = query("www." + Z, edns=edns, flags=0)
        c.append(Case(f"opcode {opcode}, QR set{', EDNS' if edns is not None else ''}",
                      patch_header(base, opcode=opcode, set_flags=dns.flags.QR | dns.flags.RD)))
    return c


def opt_alone(flags=dns.flags.RD, ttl=0, rdata=b"", arcount=1, rdtype=41):
    """A message of a header and one OPT record (QDCOUNT 0): RFC 7873 5.4."""
    header = struct.pack("!6H", QID, flags, 0, 0, 0, arcount)
    return header + b"\x00" + struct.pack("!HHIH", rdtype, 1232, ttl, len(rdata)) + rdata


def header_edge_cases():
    """Where the order of NSD's cheap rejects shows: the opcode is looked at
    before the question, RCODE bits before QDCOUNT, NOTIFY before QDCOUNT;
    TC in queries whose answer is truncated anyway or that are rejected
    later; the flags kept in BADVERS; a message that is an OPT alone."""
    www = query("www." + Z, flags=dns.flags.RD)
    pointer_question = b"\xc0\x0c\x00\x01\x00\x01"
    all_bits = ALL_QUERY_BITS
    c = [
        Case("UPDATE, header only", patch_header(www[:12], opcode=5)),
        Case("UPDATE, QDCOUNT 0", patch_header(www[:12], opcode=5, qdcount=0)),
        Case("UPDATE, compression pointer in the question", patch_header(www[:12], opcode=5) + pointer_question),
        Case("UPDATE, question cut short", patch_header(www[:17], opcode=5)),
        Case("UPDATE, QDCOUNT 2", patch_header(two_questions(), opcode=5)),
        Case("UPDATE, EDNS version 1", patch_header(query("www." + Z, edns=1), opcode=5)),
        Case("IQUERY, all flags, EDNS", patch_header(query("www." + Z, edns=0, flags=0), opcode=1,
                                                    set_flags=all_bits)),
        Case("NOTIFY, compression pointer in the question", patch_header(www[:12], opcode=4) + pointer_question,
             "FORMERR"),
        Case("NOTIFY, header only", patch_header(www[:12], opcode=4), "FORMERR"),
        Case("RCODE 1, compression pointer in the question", patch_header(www[:12], set_flags=1)
             + pointer_question, "FORMERR"),
        Case("RCODE 1, EDNS", patch_header(query("www." + Z, edns=0), set_flags=1), "FORMERR"),
        Case("TC and QDCOUNT 2", patch_header(two_questions(), set_flags=dns.flags.TC), "FORMERR"),
        Case("TC, RD, CD, header only", patch_header(www[:12], qdcount=0, set_flags=dns.flags.TC | dns.flags.CD),
             "FORMERR"),
        Case("TC and ANCOUNT 1", patch_header(with_answer_record(), set_flags=dns.flags.TC), "FORMERR"),
        Case("TC, EDNS version 1", patch_header(query("www." + Z, edns=1), set_flags=dns.flags.TC), "BADVERS"),
        Case("TC, 40 A records without EDNS", patch_header(query("big." + Z), set_flags=dns.flags.TC), "NOERROR"),
        Case("all flags, class CH", patch_header(query("www." + Z, rdclass="CH"), set_flags=all_bits)),
        Case("all flags, class 5", patch_header(query("www." + Z, rdclass=5), set_flags=all_bits)),
        Case("all flags, AXFR", patch_header(query(Z, "AXFR"), set_flags=all_bits)),
        Case("all flags, outside the zone, EDNS", patch_header(query("www.example.org.", edns=0),
                                                              set_flags=all_bits), "REFUSED"),
        Case("all flags, NXDOMAIN", patch_header(query("nothere." + Z), set_flags=all_bits), "NXDOMAIN"),
        Case("all flags, EDNS version 1", patch_header(query("www." + Z, edns=1), set_flags=all_bits),
             "BADVERS"),
        Case("all flags, OPT owner not root", patch_header(opt_with_owner(), set_flags=all_bits), "FORMERR"),
        Case("all flags, referral", patch_header(query("host.sub." + Z), set_flags=all_bits), "NOERROR"),
        Case("OPT alone", opt_alone(), "NOERROR"),
        Case("OPT alone, DO", opt_alone(ttl=0x8000), "NOERROR"),
        Case("OPT alone, all flags", opt_alone(flags=all_bits), "NOERROR"),
        Case("OPT alone, a cookie", opt_alone(rdata=struct.pack("!HH", 10, 8) + bytes(range(8))), "NOERROR"),
        Case("OPT alone, client subnet", opt_alone(rdata=struct.pack("!HHHBB", 8, 7, 1, 24, 0) + bytes([192, 0, 2])),
             "NOERROR"),
        Case("OPT alone, trailing bytes", opt_alone() + b"\x01\x02", "NOERROR"),
        Case("OPT alone, extended rcode bits", opt_alone(ttl=0x05000000), "NOERROR"),
        Case("OPT alone, version 1", opt_alone(ttl=0x00010000), "FORMERR"),
        Case("OPT alone, option longer than the OPT", opt_alone(rdata=struct.pack("!HH", 10, 20)), "FORMERR"),
        Case("OPT alone, ARCOUNT 2", opt_alone(arcount=2) + opt_alone()[12:], "FORMERR"),
        Case("OPT alone, ARCOUNT 0", opt_alone(arcount=0), "FORMERR"),
        Case("OPT alone, RCODE bits", opt_alone(flags=dns.flags.RD | 3), "FORMERR"),
        Case("A record alone, QDCOUNT 0", opt_alone(rdtype=1), "FORMERR"),
        Case("NOTIFY, QDCOUNT 2", patch_header(two_questions(), opcode=4)),
    ]
    DEVIATIONS["NOTIFY, QDCOUNT 2"] = notify_not_served
    for label in ("UPDATE, header only", "UPDATE, QDCOUNT 0", "NOTIFY, header only", "TC, RD, CD, header only"):
        DEVIATIONS[(label, "tcp")] = SAME_AS_UDP
    return c


def corpus():
    c = []
    # Existing names, each type.
    for rdtype in ("SOA", "NS", "A", "AAAA", "MX", "TXT", "CAA"):
        c.append(q(f"apex {rdtype}", Z, rdtype, "NOERROR"))
    c += [
        q("ns1 A", "ns1." + Z, "A", "NOERROR"),
        q("ns1 AAAA", "ns1." + Z, "AAAA", "NOERROR"),
        q("www A", "www." + Z, "A", "NOERROR"),
        q("www AAAA", "www." + Z, "AAAA", "NOERROR"),
        q("mail A", "mail." + Z, "A", "NOERROR"),
        q("v6only AAAA", "v6only." + Z, "AAAA", "NOERROR"),
        q("SRV with in-zone targets", "_http._tcp." + Z, "SRV", "NOERROR"),
        q("SRV to an AAAA-only target", "_sip._udp." + Z, "SRV", "NOERROR"),
        q("SRV service-not-available", "_imaps._tcp." + Z, "SRV", "NOERROR"),
        q("TXT multi-string, escapes", "txt." + Z, "TXT", "NOERROR"),
        q("TXT unquoted", "txt-single." + Z, "TXT", "NOERROR"),
        q("PTR", "10.ptr." + Z, "PTR", "NOERROR"),
        q("PTR 2", "ptr." + Z, "PTR", "NOERROR"),
        q("unknown type TYPE65534", "unknown." + Z, "TYPE65534", "NOERROR"),
        q("unknown type empty rdata", "unknown." + Z, "TYPE65280", "NOERROR"),
        q("A written as TYPE1", "generic." + Z, "A", "NOERROR"),
        q("A 40 records, EDNS 1232", "big." + Z, "A", "NOERROR", edns=0, payload=1232),
        q("A 40 records, TCP-size EDNS", "big." + Z, "A", "NOERROR", edns=0, payload=4096),
    ]
    # NODATA.
    c += [
        q("NODATA www MX", "www." + Z, "MX", "NOERROR"),
        q("NODATA www TXT", "www." + Z, "TXT", "NOERROR"),
        q("NODATA v6only A", "v6only." + Z, "A", "NOERROR"),
        q("NODATA apex SRV", Z, "SRV", "NOERROR"),
        q("NODATA ns2 AAAA", "ns2." + Z, "AAAA", "NOERROR"),
        q("NODATA unknown type at existing name", "txt." + Z, "TYPE65534", "NOERROR"),
        q("NODATA apex DS", Z, "DS", "NOERROR"),
    ]
    # NXDOMAIN.
    c += [
        q("NXDOMAIN", "nothere." + Z, "A", "NXDOMAIN"),
        q("NXDOMAIN two labels deep", "deep.nothere." + Z, "A", "NXDOMAIN"),
        q("NXDOMAIN below an existing name", "x.www." + Z, "A", "NXDOMAIN"),
        q("NXDOMAIN below an ENT", "x.a.b.c." + Z, "A", "NXDOMAIN"),
        q("NXDOMAIN sibling of an ENT", "z.c." + Z, "A", "NXDOMAIN"),
        q("NXDOMAIN TXT", "www2." + Z, "TXT", "NXDOMAIN"),
    ]
    # Empty non-terminals.
    c += [
        q("ENT b.c A", "b.c." + Z, "A", "NOERROR"),
        q("ENT c A", "c." + Z, "A", "NOERROR"),
        q("ENT b.c TXT", "b.c." + Z, "TXT", "NOERROR"),
        q("below ENT a.b.c A", "a.b.c." + Z, "A", "NOERROR"),
        q("ENT _tcp SRV", "_tcp." + Z, "SRV", "NOERROR"),
    ]
    # Wildcards.
    c += [
        q("wildcard A", "foo.wild." + Z, "A", "NOERROR"),
        q("wildcard TXT", "foo.wild." + Z, "TXT", "NOERROR"),
        q("wildcard MX", "foo.wild." + Z, "MX", "NOERROR"),
        q("wildcard NODATA AAAA", "foo.wild." + Z, "AAAA", "NOERROR"),
        q("wildcard two labels", "a.b.wild." + Z, "A", "NOERROR"),
        q("wildcard literal *", "*.wild." + Z, "A", "NOERROR"),
        q("wildcard parent is ENT", "wild." + Z, "A", "NOERROR"),
        q("existing name blocks wildcard", "exists.wild." + Z, "A", "NOERROR"),
        q("existing name blocks wildcard NODATA", "exists.wild." + Z, "TXT", "NOERROR"),
        q("name below the blocking name", "deep.exists.wild." + Z, "AAAA", "NOERROR"),
        q("NXDOMAIN below the blocking name", "x.exists.wild." + Z, "A", "NXDOMAIN"),
        q("wildcard CNAME", "x.wcname." + Z, "A", "NOERROR"),
        q("wildcard CNAME asked CNAME", "x.wcname." + Z, "CNAME", "NOERROR"),
    ]
    # CNAMEs.
    c += [
        q("CNAME A", "alias." + Z, "A", "NOERROR"),
        q("CNAME asked CNAME", "alias." + Z, "CNAME", "NOERROR"),
        q("CNAME AAAA", "alias." + Z, "AAAA", "NOERROR"),
        q("CNAME to NODATA", "alias." + Z, "MX", "NOERROR"),
        q("CNAME chain", "chain1." + Z, "A", "NOERROR"),
        q("CNAME chain middle", "chain2." + Z, "AAAA", "NOERROR"),
        q("CNAME external", "external." + Z, "A", "NOERROR"),
        q("CNAME to NXDOMAIN", "dangling." + Z, "A", "NXDOMAIN"),
        q("CNAME into delegation", "to-sub." + Z, "A", "NOERROR"),
        q("CNAME loop", "loop1." + Z, "A"),
    ]
    # CNAMEs ending in unusual places, and long chains.
    c += [
        q("CNAME chain of 12", "cc01." + Z, "A", "NOERROR"),
        q("CNAME chain of 12, TCP-size EDNS", "cc01." + Z, "AAAA", "NOERROR", edns=0, payload=4096),
        q("CNAME to a wildcard", "to-wild." + Z, "A", "NOERROR"),
        q("CNAME to a wildcard NODATA", "to-wild." + Z, "AAAA", "NOERROR"),
        q("CNAME to an ENT", "to-ent." + Z, "A", "NOERROR"),
        q("CNAME to an unknown type", "to-unknown." + Z, "TYPE65534", "NOERROR"),
        q("CNAME asked ANY", "alias." + Z, "ANY", "NOERROR"),
        q("CNAME loop asked CNAME", "loop1." + Z, "CNAME", "NOERROR"),
    ]
    # What may be left out of a 512-byte answer without TC (RFC 2181 9).
    c += [
        q("fits 512, additional does not", "fits512a." + Z, "TXT", "NOERROR"),
        q("fits 512, authority does not", "fits512b." + Z, "TXT", "NOERROR"),
        q("fits 512, additional does not, EDNS 512", "fits512a." + Z, "TXT", "NOERROR", edns=0, payload=512),
        q("referral over 512 bytes", "host.bigdeleg." + Z, "A", "NOERROR"),
        q("referral over 512 bytes, EDNS 1232", "host.bigdeleg." + Z, "A", "NOERROR", edns=0),
        q("referral over 512 bytes at the cut", "bigdeleg." + Z, "NS", "NOERROR"),
        q("glue name in a big delegation", "ns07.bigdeleg." + Z, "AAAA", "NOERROR"),
        q("apex NS with DO", Z, "NS", "NOERROR", edns=0, dnssec=True),
    ]
    # Odd query types and names.
    c += [
        q("qtype 0", "www." + Z, 0),
        q("qtype 65535", "www." + Z, 65535, "NOERROR"),
        q("qtype RRSIG", "www." + Z, "RRSIG", "NOERROR"),
        q("qtype NSEC", "www." + Z, "NSEC", "NOERROR"),
        q("qtype OPT", "www." + Z, "OPT"),
        q("qtype TSIG", "www." + Z, "TSIG"),
        q("qtype ANY at an ENT", "b.c." + Z, "ANY", "NOERROR"),
        q("qtype ANY at a wildcard", "foo.wild." + Z, "ANY", "NOERROR"),
        q("qtype ANY at a delegation", "host.sub." + Z, "ANY", "NOERROR"),
        q("binary label", "a\\000b.wild." + Z, "A", "NOERROR"),
        q("escaped dot in a label", "a\\.b." + Z, "A", "NXDOMAIN"),
        q("name of 255 octets", ".".join(["a" * 61] * 3 + ["x" * 54]) + "." + Z, "A",
          "NXDOMAIN"),
        q("space in a label", "a\\032b." + Z, "TXT", "NXDOMAIN"),
        q("EDNS client subnet option", "www." + Z, "A", "NOERROR", edns=0,
          options=[dns.edns.ECSOption("192.0.2.0", 24)]),
        q("EDNS cookie option", "www." + Z, "A", "NOERROR", edns=0,
          options=[dns.edns.GenericOption(10, bytes(range(8)))]),
        q("EDNS NSID option", "www." + Z, "A", "NOERROR", edns=0, options=[dns.edns.GenericOption(3, b"")]),
        q("EDNS padding option", "www." + Z, "A", "NOERROR", edns=0,
          options=[dns.edns.GenericOption(12, bytes(16))]),
        q("EDNS version 255", "www." + Z, "A", "BADVERS", edns=255),
        q("EDNS payload 511", "fits512a." + Z, "TXT", "NOERROR", edns=0, payload=511),
        Case("EDNS option longer than the OPT", opt_bad_option_length()),
        Case("EDNS extended rcode bits set in query", opt_with_flags(0x01000000)),
        Case("EDNS unknown flag bits in query", opt_with_flags(0x00007FFF)),
    ]
    # More wildcard and name edge cases.
    c += [
        q("ENT blocks the wildcard", "ent.wild." + Z, "A", "NOERROR"),
        q("below an ENT that blocks the wildcard", "x.ent.wild." + Z, "A", "NXDOMAIN"),
        q("name below the ENT", "deep.ent.wild." + Z, "A", "NOERROR"),
        q("RRset with two TTLs", "ttlmix." + Z, "A", "NOERROR"),
        q("label with a dot", "dot\\.label." + Z, "A", "NOERROR"),
        q("label with a dot, as two labels", "dot.label." + Z, "A", "NXDOMAIN"),
        q("label with a space", "sp\\032ace." + Z, "TXT", "NOERROR"),
        q("label byte 228", "\\228bc." + Z, "A", "NOERROR"),
        q("label byte 228, ASCII upper", "\\228BC." + Z, "A", "NOERROR"),
        q("label byte 196 is not 228 upper-cased", "\\196bc." + Z, "A", "NXDOMAIN"),
    ]
    # Delegations.
    c += [
        q("referral at the cut", "sub." + Z, "A", "NOERROR"),
        q("referral NS at the cut", "sub." + Z, "NS", "NOERROR"),
        q("referral below the cut", "host.sub." + Z, "A", "NOERROR"),
        q("referral two below the cut", "a.host.sub." + Z, "MX", "NOERROR"),
        q("glue name itself", "ns.sub." + Z, "A", "NOERROR"),
        q("glue name AAAA", "ns.sub." + Z, "AAAA", "NOERROR"),
        q("DS at the cut", "sub." + Z, "DS", "NOERROR"),
        q("SOA at the cut", "sub." + Z, "SOA", "NOERROR"),
        q("DS at a cut without DS", "nods." + Z, "DS", "NOERROR"),
        q("referral without glue", "x.nods." + Z, "A", "NOERROR"),
        q("DS below the cut", "host.sub." + Z, "DS", "NOERROR"),
    ]
    # Mixed case: the question is echoed as sent.
    c += [
        q("mixed case query", "wWw.ExAmPlE.tEsT.", "A", "NOERROR"),
        q("mixed case NXDOMAIN", "NoThErE.Example.Test.", "A", "NXDOMAIN"),
        q("mixed case owner in zone", "mixedcase." + Z, "A", "NOERROR"),
        q("upper case owner in zone", "MIXEDCASE.EXAMPLE.TEST.", "A", "NOERROR"),
        q("mixed case wildcard", "FoO.WiLd.example.test.", "A", "NOERROR"),
        q("mixed case referral", "Host.SUB.Example.TEST.", "A", "NOERROR"),
    ]
    # EDNS.
    c += [
        q("EDNS www A", "www." + Z, "A", "NOERROR", edns=0),
        q("EDNS NXDOMAIN", "nothere." + Z, "A", "NXDOMAIN", edns=0),
        q("EDNS DO bit", "www." + Z, "A", "NOERROR", edns=0, dnssec=True),
        q("EDNS version 1 BADVERS", "www." + Z, "A", "BADVERS", edns=1),
        q("EDNS version 1 BADVERS NXDOMAIN name", "nothere." + Z, "A", "BADVERS", edns=1),
        q("EDNS unknown option", "www." + Z, "A", "NOERROR", edns=0,
          options=[dns.edns.GenericOption(65001, b"\x01\x02\x03")]),
        q("EDNS payload 0 (as 512)", "bigtxt." + Z, "TXT", "NOERROR", edns=0, payload=0),
        q("EDNS payload 100 (as 512)", "big." + Z, "A", "NOERROR", edns=0, payload=100),
        q("EDNS payload 512", "big." + Z, "A", "NOERROR", edns=0, payload=512),
        q("EDNS payload 1232, 1.5 KB TXT", "bigtxt." + Z, "TXT", "NOERROR", edns=0, payload=1232),
        q("EDNS payload 4096, 1.5 KB TXT", "bigtxt." + Z, "TXT", "NOERROR", edns=0, payload=4096),
        q("EDNS payload 65535, 1.5 KB TXT", "bigtxt." + Z, "TXT", "NOERROR", edns=0, payload=65535),
        q("no EDNS, 40 A records (TC on UDP)", "big." + Z, "A", "NOERROR"),
        q("no EDNS, 1.5 KB TXT (TC on UDP)", "bigtxt." + Z, "TXT", "NOERROR"),
        Case("two OPT records", two_opt_records(), "FORMERR"),
        Case("OPT owner not root", opt_with_owner()),
    ]
    # ANY (RFC 8482), and names outside the zone.
    c += [
        q("ANY apex", Z, "ANY", "NOERROR"),
        q("ANY www", "www." + Z, "ANY", "NOERROR"),
        q("ANY NXDOMAIN", "nothere." + Z, "ANY", "NXDOMAIN"),
        q("outside: other domain", "www.example.org.", "A", "REFUSED"),
        q("outside: parent of the zone", "test.", "SOA", "REFUSED"),
        q("outside: root", ".", "NS", "REFUSED"),
        q("outside: suffix lookalike", "www.notexample.test.", "A", "REFUSED"),
        q("outside: EDNS", "www.example.org.", "A", "REFUSED", edns=0),
    ]
    # Header flags in queries, and opcodes: every bit, every opcode, with
    # and without EDNS (header_matrix below).
    c += header_matrix()
    c += header_edge_cases()
    # Malformed queries.
    www = query("www." + Z)
    c += [
        Case("QDCOUNT 0", patch_header(www[:12], qdcount=0), "FORMERR"),
        Case("QDCOUNT 0 with question bytes", patch_header(www, qdcount=0), "FORMERR"),
        Case("QDCOUNT 2", two_questions(), "FORMERR"),
        Case("ANCOUNT 1 in a query", with_answer_record()),
        Case("truncated: header only", www[:12], "FORMERR"),
        Case("truncated: inside the name", www[:17], "FORMERR"),
        Case("truncated: no class", www[:len(www) - 2], "FORMERR"),
        Case("truncated: shorter than a header", www[:7]),
        Case("trailing garbage", www + b"\x00\x01\x02"),
        Case("QR set (a response)", patch_header(www, set_flags=dns.flags.QR)),
        Case("compression pointer loop", patch_header(www[:12], qdcount=1) + b"\xc0\x0c\x00\x01\x00\x01",
             "FORMERR"),
        Case("class CH", query("www." + Z, "A", rdclass="CH")),
        Case("class ANY", query("www." + Z, "A", rdclass="ANY")),
        Case("type AXFR on UDP", query(Z, "AXFR"), transports=("udp",)),
        Case("type IXFR on UDP", query(Z, "IXFR"), transports=("udp",)),
        Case("meta type MAILA", query("www." + Z, "MAILA")),
        Case("type AXFR on TCP", query(Z, "AXFR"), transports=("tcp",)),
        Case("type IXFR on TCP", query(Z, "IXFR"), transports=("tcp",)),
    ]
    return c


# --- normalising answers ---------------------------------------------------------------

def flag_text(flags):
    return " ".join(n for n, bit in FLAG_NAMES if flags & bit) or "-"


def canonical_rdata(rd):
    """The rdata with the names in it lower-cased (RFC 4034 6.2): NSD's
    compression makes names in rdata take the case of the question."""
    wire = rd.to_digestable()
    return dns.rdata.from_wire(rd.rdclass, rd.rdtype, wire, 0, len(wire)).to_text()


def section_set(section):
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add(f"{rrset.name.to_text().lower()} {rrset.ttl} {dns.rdataclass.to_text(rrset.rdclass)} "
                    f"{dns.rdatatype.to_text(rrset.rdtype)} {canonical_rdata(rd)}")
    return out


def normalise(reply):
    """What we compare of one reply, as a dict of printable values."""
    if isinstance(reply, NoResponse):
        return {"response": "none"}
    out = {"response": "yes"}
    if len(reply) < 12:
        out["header"] = f"short reply of {len(reply)} bytes"
        return out
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", reply[:12])
    out["id"] = qid
    out["opcode"] = dns.opcode.to_text((flags >> 11) & 0xF)
    out["flags"] = flag_text(flags)
    try:
        # one RR per RRset: dnspython would otherwise give every RR of an
        # RRset the smallest TTL among them, hiding a TTL difference
        m = dns.message.from_wire(reply, one_rr_per_rrset=True)
    except Exception as e:  # keep what the header says, and why the body failed
        out["rcode"] = dns.rcode.to_text(flags & 0xF)
        out["counts"] = (qd, an, ns, ar)
        out["parse"] = f"{type(e).__name__}: {e}"
        return out
    out["rcode"] = dns.rcode.to_text(m.rcode())
    out["question"] = [f"{r.name.to_text()} {dns.rdataclass.to_text(r.rdclass)} {dns.rdatatype.to_text(r.rdtype)}"
                       for r in m.question]
    out["answer"] = section_set(m.answer)
    out["authority"] = section_set(m.authority)
    out["additional"] = section_set(m.additional)
    if m.edns >= 0:
        opts = sorted((o.otype, o.to_wire() if hasattr(o, "to_wire") else b"") for o in m.options)
        do = "DO" if m.ednsflags & dns.flags.DO else "-"
        out["edns"] = f"version {m.edns} {do} options {opts}"
        out["edns payload (not compared)"] = m.payload
    else:
        out["edns"] = "none"
    return out


COMPARED = ("response", "header", "id", "opcode", "flags", "rcode", "counts", "parse", "question", "answer",
            "authority", "additional", "edns")


def differences(ref, sub, ref_name, sub_name):
    """Human-readable lines for each compared field that differs."""
    lines = []
    for key in COMPARED:
        a, b = ref.get(key), sub.get(key)
        if a == b:
            continue
        if isinstance(a, set) or isinstance(b, set):
            a, b = a or set(), b or set()
            for rr in sorted(a - b):
                lines.append(f"  {key}: only {ref_name}: {rr}")
            for rr in sorted(b - a):
                lines.append(f"  {key}: only {sub_name}: {rr}")
        else:
            lines.append(f"  {key}: {ref_name}={a!r} {sub_name}={b!r}")
    return lines


def render(norm):
    lines = []
    for key, value in norm.items():
        if isinstance(value, set):
            value = sorted(value)
            lines.append(f"    {key}:" + ("" if value else " (empty)"))
            lines += [f"      {rr}" for rr in value]
        else:
            lines.append(f"    {key}: {value}")
    return "\n".join(lines)


# --- deviations from NSD ------------------------------------------------------------------
# Where NSD's answer is arguably wrong (or one of several right answers), the
# check below replaces the plain comparison for cairn. Each is explained in
# docs/testing.md ("Where cairn differs from NSD"). A check gets NSD's and
# cairn's normalised replies and returns a list of problems.

@functools.cache
def zone_records():
    """{owner (lower case): set of RR lines as section_set writes them}."""
    zone = dns.zone.from_text(refservers.example_zone_text(), origin=Z, relativize=False)
    out = {}
    for name, node in zone.nodes.items():
        lines = set()
        for rdataset in node.rdatasets:
            rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype)
            rrset.update(rdataset)
            lines |= section_set([rrset])
        out[name.to_text().lower()] = lines
    return out


def same_header(ref, sub, keys=("rcode", "flags", "opcode", "question", "edns")):
    return [f"  {k}: nsd={ref.get(k)!r} cairn={sub.get(k)!r}" for k in keys if ref.get(k) != sub.get(k)]


def any_per_rfc8482(ref, sub):
    """RFC 8482: ANY may be answered with any one (or several) of the name's
    RRsets, or a synthesised HINFO. NSD picks one; cairn may pick another.
    cairn must keep NSD's rcode and flags and answer with whole RRsets that
    exist at the name, or exactly one HINFO."""
    problems = same_header(ref, sub)
    answer = sub.get("answer") or set()
    owner = sub["question"][0].split()[0].lower() if sub.get("question") else ""
    at_name = zone_records().get(owner, set())
    hinfo = [rr for rr in answer if " HINFO " in rr]
    if not answer:
        problems.append("  ANY answered with an empty answer section")
    elif hinfo:
        if len(answer) != 1:
            problems.append(f"  a synthesised HINFO must be alone: {sorted(answer)}")
    elif not answer <= at_name:
        problems.append(f"  records that are not at the name: {sorted(answer - at_name)}")
    else:
        types = {rr.split()[3] for rr in answer}
        for rdtype in types:
            whole = {rr for rr in at_name if rr.split()[3] == rdtype}
            if not whole <= answer:
                problems.append(f"  RRset {rdtype} only partly in the answer: missing {sorted(whole - answer)}")
    if sub.get("authority") or sub.get("additional"):
        problems += differences({k: ref.get(k) for k in ("authority", "additional")},
                                {k: sub.get(k) for k in ("authority", "additional")}, "nsd", "cairn")
    return problems


# NSD closes a TCP connection whose message is shorter than a header plus a
# minimal question (17 bytes) without answering, though it answers the same
# bytes over UDP. A 12-byte header parses, so RFC 8906 asks for an answer:
# cairn must answer over TCP exactly as NSD answers over UDP.
SAME_AS_UDP = "same as NSD over UDP"


def notify_not_served(ref, sub):
    """NSD answers a NOTIFY for a zone it is primary for with NXDOMAIN (its
    "not a secondary for this" path); RFC 1996 has no such answer. cairn has no
    secondary zones, so NOTIMP (or REFUSED / NOTAUTH) is the honest answer,
    with the opcode echoed and the flags NSD sends (the query's, AD cleared)."""
    problems = []
    if sub.get("response") != "yes":
        return ["  cairn sent no answer to a NOTIFY (RFC 8906: answer it)"]
    if sub.get("rcode") not in ("NOTIMP", "REFUSED", "NOTAUTH"):
        problems.append(f"  rcode: expected NOTIMP, REFUSED or NOTAUTH, cairn={sub.get('rcode')!r}")
    if sub.get("opcode") != "NOTIFY":
        problems.append(f"  opcode: expected NOTIFY echoed, cairn={sub.get('opcode')!r}")
    if "QR" not in (sub.get("flags") or ""):
        problems.append(f"  flags: expected QR, cairn={sub.get('flags')!r}")
    problems += same_header(ref, sub, keys=("flags", "edns", "id"))
    if sub.get("question") or sub.get("answer") or sub.get("authority") or sub.get("additional"):
        problems.append("  expected a header-only answer")
    return problems


def referral_glue_truncates(ref, sub):
    """RFC 9471: glue for name servers below the cut is not optional; when it
    does not all fit, TC must be set. NSD 4.6 sends the NS RRset and the A
    glue that fits and drops the AAAA glue without TC. cairn must set TC (no
    AA, NOERROR, the question echoed); whatever records it includes must be
    NSD's, and the TCP comparison of the same query must get them all."""
    problems = same_header(ref, sub, keys=("rcode", "opcode", "question", "edns"))
    if "TC" not in (sub.get("flags") or "").split():
        problems.append(f"  flags: expected TC, cairn={sub.get('flags')!r}")
    if "AA" in (sub.get("flags") or "").split():
        problems.append(f"  flags: a referral must not set AA, cairn={sub.get('flags')!r}")
    for key in ("answer", "authority", "additional"):
        extra = (sub.get(key) or set()) - (ref.get(key) or set())
        if key == "additional":
            extra = {rr for rr in extra if " AAAA " not in rr}
        if extra:
            problems.append(f"  {key}: records NSD does not have: {sorted(extra)}")
    return problems


DEVIATIONS = {
    ("referral over 512 bytes", "udp"): referral_glue_truncates,
    ("referral over 512 bytes at the cut", "udp"): referral_glue_truncates,
    ("glue name in a big delegation", "udp"): referral_glue_truncates,
    "ANY apex": any_per_rfc8482,
    "ANY www": any_per_rfc8482,
    ("QDCOUNT 0", "tcp"): SAME_AS_UDP,
    ("truncated: header only", "tcp"): SAME_AS_UDP,
}


def deviation(label, transport):
    return DEVIATIONS.get((label, transport)) or DEVIATIONS.get(label)


APEX_NS = {f"{Z} 3600 IN NS ns1.{Z}", f"{Z} 3600 IN NS ns2.{Z}"}
NS_NAMES = (f"ns1.{Z}", f"ns2.{Z}")


def without_apex_ns(ref, sub):
    """NSD (minimal-responses: no) adds the zone's NS RRset to the authority
    section of positive answers, and those servers' addresses to additional;
    Knot, and BIND with minimal-responses, do not, and RFC 2181 5.4.1 lets
    either happen. When cairn leaves out the apex NS RRset entirely, compare
    without NSD's optional copy. Returns (ref to compare, whether it applied)."""
    ref_auth = ref.get("authority") or set()
    sub_auth = sub.get("authority") or set()
    if not ref.get("answer") or not APEX_NS <= ref_auth or sub_auth & APEX_NS:
        return ref, False
    trimmed = dict(ref)
    trimmed["authority"] = ref_auth - APEX_NS
    sub_add = sub.get("additional") or set()
    trimmed["additional"] = {rr for rr in ref.get("additional") or set()
                             if rr in sub_add or rr.split()[0] not in NS_NAMES}
    return trimmed, True


# --- the test ----------------------------------------------------------------------------

class SecondPacer:
    """At most `per_second` queries in any one second of the wall clock.

    NSD answers at most 100 NOTIMP (and other error) responses per second
    (ERROR_RATELIMIT in its query.c, keyed on time()) and drops the rest, over
    TCP by closing the connection, whatever its RRL settings; the corpus
    sends hundreds of them. Waiting for the next second is waiting for a
    known clock edge, not for luck."""

    def __init__(self, per_second=90):
        self.per_second = per_second
        self.second = None
        self.count = 0

    def wait(self):
        now = time.time()
        if int(now) != self.second:
            self.second, self.count = int(now), 0
        if self.count >= self.per_second:
            time.sleep(int(now) + 1 - now)
            while int(time.time()) == self.second:  # bounded: the edge is < 1 ms away
                time.sleep(0.001)
            self.second, self.count = int(time.time()), 0
        self.count += 1


NSD_PACER = SecondPacer()


def exchange(transport, wire, server, attempts=2):
    """The reply, or NoResponse; UDP is tried twice so that a datagram lost
    on a loaded machine does not read as a server that stays silent."""
    if isinstance(server, refservers.Nsd):
        NSD_PACER.wait()
    if transport == "tcp":
        return refservers.tcp_exchange(wire, server.host, server.port, timeout=3.0)
    for _ in range(attempts):
        reply = refservers.udp_exchange(wire, server.host, server.port, timeout=1.5)
        if not isinstance(reply, NoResponse):
            break
    return reply


class CompareWithNsd(unittest.TestCase):
    subject_kind = os.environ.get("CAIRN_COMPARE_SUBJECT", "cairn")

    @classmethod
    def setUpClass(cls):
        zones = {refservers.EXAMPLE_ORIGIN: refservers.example_zone_text()}
        cls.nsd = refservers.Nsd(zones, minimal_responses=MINIMAL_RESPONSES).start()
        try:
            cls.subject = refservers.make_server(cls.subject_kind, zones).start()
        except BaseException:
            cls.nsd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.subject.stop()
        cls.nsd.stop()

    def compare(self, transport):
        only = os.environ.get("CAIRN_COMPARE_ONLY", "")
        sub_name = self.subject_kind if self.subject_kind != "nsd" else "nsd2"
        mismatches = []
        trimmed_count = 0
        larger = []  # (label, bytes more than NSD's reply)
        cases = [c for c in corpus() if transport in c.transports and only in c.label]
        self.assertGreater(len(cases), 0)
        for case in cases:
            check = deviation(case.label, transport) if self.subject_kind != "nsd" else None
            ref_transport = "udp" if check == SAME_AS_UDP else transport
            if check == SAME_AS_UDP:
                check = None
            ref_reply = exchange(ref_transport, case.wire, self.nsd)
            sub_reply = exchange(transport, case.wire, self.subject)
            ref, sub = normalise(ref_reply), normalise(sub_reply)
            if isinstance(ref_reply, bytes) and isinstance(sub_reply, bytes) and len(sub_reply) > len(ref_reply):
                larger.append((case.label, len(sub_reply) - len(ref_reply)))
            problems = []
            if case.expect and ref.get("rcode") != case.expect and not check:
                problems.append(f"  the corpus expects {case.expect} but NSD said {ref.get('rcode')}: "
                                "the zone or the case is wrong")
            if check:
                problems += check(ref, sub)
            else:
                compared, trimmed = without_apex_ns(ref, sub) if self.subject_kind != "nsd" else (ref, False)
                trimmed_count += trimmed
                problems += differences(compared, sub, "nsd", sub_name)
            if problems:
                mismatches.append(f"--- {case.label} over {transport.upper()}\n" + "\n".join(problems)
                                  + f"\n  nsd said:\n{render(ref)}\n  {sub_name} said:\n{render(sub)}")
        if larger:
            worst = max(larger, key=lambda item: item[1])
            print(f"\n{transport.upper()}: {sub_name}'s reply is larger than NSD's in {len(larger)} cases "
                  f"(most: {worst[0]}, +{worst[1]} bytes); not a failure, compression is a server's choice",
                  file=sys.stderr)
        if trimmed_count:
            print(f"\n{transport.upper()}: {trimmed_count} positive answers compared without NSD's optional "
                  "apex NS RRset in authority", file=sys.stderr)
        if mismatches:
            report = "\n".join(mismatches)
            print(f"\n{len(mismatches)} of {len(cases)} {transport.upper()} cases differ:\n{report}",
                  file=sys.stderr)
            self.fail(f"{len(mismatches)} of {len(cases)} {transport.upper()} cases differ from NSD: "
                      + ", ".join(m.splitlines()[0][4:] for m in mismatches))

    def test_udp(self):
        self.compare("udp")

    def test_tcp(self):
        self.compare("tcp")


if __name__ == "__main__":
    unittest.main(verbosity=2)
