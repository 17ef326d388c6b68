"""RFC 4475 torture messages, written out by hand from the RFC text.

Line folds in the RFC are kept where they are part of the test (folded headers);
the RFC's <allOneLine> and <repeat> notations are expanded here. Each test names
the RFC section and its short name, and checks what the RFC says an element
must do: parse the valid ones, answer the invalid ones with an error (and a
reason that says why) when a response can be routed, otherwise drop them.
"""

import pytest

from wpbxd.telephony.sip.message import Request, Response, parse, triage
from wpbxd.telephony.sip.uri import parse_address, parse_uri


def msg(text: str, body: bytes = b"") -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8") + body


# 3.1.1.1 wsinv -- A Short Tortuous INVITE
WSINV = msg(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\n"
    "  ;\n"
    "  tag = 98asjd8\n"
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    "Content-Length   : 150\n"
    "cseq: 0009\n"
    "  INVITE\n"
    "Via  : SIP  /   2.0\n"
    " /UDP\n"
    "    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n"
    " continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Content-Type: application/sdp\n"
    "Route:\n"
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
    "  branch  =   z9hG4bK9ikj8  ,\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
    " z9hG4bK30239\n"
    "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\n"
    "      newvalue ;\n"
    "  secondparam ; q = 0.33\n"
    "\n",
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n",
)

# 3.1.1.2 intmeth -- Wide Range of Valid Characters
INTMETH = msg(
    "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    ":&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
    "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    "@example.com>\n"
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    "\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-.\n"
    "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
    "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
    "Max-Forwards: 255\n"
    "extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb\n"
    "Content-Length: 0\n"
    "\n"
)

# 3.1.1.3 esc01 -- Valid Use of the % Escaping Mechanism
ESC01 = msg(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n"
    "To: sip:%75se%72@example.com\n"
    "From: <sip:I%20have%20spaces@example.net>;tag=938\n"
    "Max-Forwards: 87\n"
    "i: esc01.239409asdfakjkn23onasd0-3234\n"
    "CSeq: 234234 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n"
    "C: application/sdp\n"
    "Contact:\n"
    "  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n"
    "Content-Length: 150\n"
    "\n",
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n",
)

# 3.1.1.4 escnull -- Escaped Nulls in URIs
ESCNULL = msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:null-%00-null@example.com\n"
    "From: sip:null-%00-null@example.com;tag=839923423\n"
    "Max-Forwards: 70\n"
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
    "Contact: <sip:%00@host5.example.com>\n"
    "Contact: <sip:%00%00@host5.example.com>\n"
    "L:0\n"
    "\n"
)

# 3.1.1.5 esc02 -- Use of % When It Is Not an Escape
ESC02 = msg(
    "RE%47IST%45R sip:registrar.example.com SIP/2.0\n"
    "To: \"%Z%45\" <sip:resource@example.com>\n"
    "From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\n"
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
    "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\n"
    "CSeq: 29344 RE%47IST%45R\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:alias1@host1.example.com>\n"
    "C%6Fntact: <sip:alias2@host2.example.com>\n"
    "Contact: <sip:alias3@host3.example.com>\n"
    "l: 0\n"
    "\n"
)

# 3.1.1.6 lwsdisp -- Message with No LWS between Display Name and <
LWSDISP = msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: caller<sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID: lwsdisp.1234abcd@funky.example.com\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n"
    "l: 0\n"
    "\n"
)

# 3.1.1.7 longreq -- Long Values in Header Fields (repeats expanded)
LONGREQ = msg(
    "INVITE sip:user@example.com SIP/2.0\n"
    "To: \"I have a user name of " + "extreme" * 10 + " proportion\"<sip:user@example.com:6000;"
    "unknownparam1=very" + "long" * 20 + "value;longparam" + "name" * 25 + "=shortvalue;"
    "very" + "long" * 25 + "ParameterNameWithNoValue>\n"
    "F: sip:" + "amazinglylongcallername" * 5 + "@example.net;tag=12" + "982" * 50 + "424;"
    "unknownheaderparam" + "name" * 20 + "=unknowheaderparam" + "value" * 15 + ";"
    "unknownValueless" + "paramname" * 10 + "\n"
    "Call-ID: longreq.one" + "really" * 20 + "longcallid\n"
    "CSeq: 3882340 INVITE\n"
    "Unknown-" + "Long" * 20 + "-Name: unknown-" + "long" * 20 + "-value; unknown-" + "long" * 20 +
    "-parameter-name = unknown-" + "long" * 20 + "-parameter-value\n"
    "Via: SIP/2.0/TCP sip33.example.com\n"
    "v: SIP/2.0/TCP sip32.example.com\n"
    "V: SIP/2.0/TCP sip31.example.com\n"
    "Via: SIP/2.0/TCP sip30.example.com\n"
    "ViA: SIP/2.0/TCP sip29.example.com\n"
    "VIa: SIP/2.0/TCP sip28.example.com\n"
    "VIA: SIP/2.0/TCP sip27.example.com\n"
    "via: SIP/2.0/TCP sip26.example.com\n"
    "viA: SIP/2.0/TCP sip25.example.com\n"
    "vIa: SIP/2.0/TCP sip24.example.com\n"
    "vIA: SIP/2.0/TCP sip23.example.com\n"
    "V :  SIP/2.0/TCP sip22.example.com\n"
    "v :  SIP/2.0/TCP sip21.example.com\n"
    "V  :  SIP/2.0/TCP sip20.example.com\n"
    "v  :  SIP/2.0/TCP sip19.example.com\n"
    "Via : SIP/2.0/TCP sip18.example.com\n"
    "Via  : SIP/2.0/TCP sip17.example.com\n"
    "Via: SIP/2.0/TCP sip16.example.com\n"
    "Via: SIP/2.0/TCP sip15.example.com\n"
    "Via: SIP/2.0/TCP sip14.example.com\n"
    "Via: SIP/2.0/TCP sip13.example.com\n"
    "Via: SIP/2.0/TCP sip12.example.com\n"
    "Via: SIP/2.0/TCP sip11.example.com\n"
    "Via: SIP/2.0/TCP sip10.example.com\n"
    "Via: SIP/2.0/TCP sip9.example.com\n"
    "Via: SIP/2.0/TCP sip8.example.com\n"
    "Via: SIP/2.0/TCP sip7.example.com\n"
    "Via: SIP/2.0/TCP sip6.example.com\n"
    "Via: SIP/2.0/TCP sip5.example.com\n"
    "Via: SIP/2.0/TCP sip4.example.com\n"
    "Via: SIP/2.0/TCP sip3.example.com\n"
    "Via: SIP/2.0/TCP sip2.example.com\n"
    "Via: SIP/2.0/TCP sip1.example.com\n"
    "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very" + "long" * 50 + "branchvalue\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:" + "amazinglylongcallername" * 5 + "@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "l: 150\n"
    "\n",
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n",
)

# 3.1.1.8 dblreq -- Extra Trailing Octets in a UDP Datagram
DBLREQ = msg(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=43251j3j324\n"
    "Max-Forwards: 8\n"
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n"
    "Contact: sip:j.user@host.example.com\n"
    "CSeq: 8 REGISTER\n"
    "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n"
    "Content-Length: 0\n"
    "\n"
    "INVITE sip:joe@example.com SIP/2.0\n"
    "t: sip:joe@example.com\n"
    "From: sip:caller@example.net;tag=141334\n"
    "Max-Forwards: 8\n"
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 150\n"
    "\n",
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.15\r\ns=-\r\nc=IN IP4 192.0.2.15\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm =video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n",
)

# 3.1.1.9 semiuri -- Semicolon-Separated Parameters in URI User Part
SEMIURI = msg(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Call-ID: semiuri.0ha0isndaksdj\n"
    "CSeq: 8 OPTIONS\n"
    "Accept: application/sdp, application/pkcs7-mime,\n"
    "        multipart/mixed, multipart/signed,\n"
    "        message/sip, message/sipfrag\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n"
    "l: 0\n"
    "\n"
)

# 3.1.1.10 transports -- Varied and Unknown Transport Types
TRANSPORTS = msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: <sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n"
    "Accept: application/sdp\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n"
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
    "l: 0\n"
    "\n"
)

# 3.1.1.11 mpart01 -- Multipart MIME Message (binary part shortened)
MPART01 = msg(
    "MESSAGE sip:kumiko@example.org SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n"
    "Max-Forwards: 70\n"
    "Route: <sip:127.0.0.1:5080>\n"
    "Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\n"
    "Contact: <sip:fluffy@127.0.0.1:5070>\n"
    "To: <sip:kumiko@example.org>\n"
    "From: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
    "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n"
    "CSeq: 1 MESSAGE\n"
    "Content-Transfer-Encoding: binary\n"
    "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n"
    "Date: Sat, 15 Oct 2005 04:44:56 GMT\n"
    "User-Agent: SIPimp.org/0.2.5 (curses)\n"
    "Content-Length: 172\n"
    "\n",
    b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"Hello\r\n--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff\xfe\r\n"
    b"--7a9cbec02ceef655--\r\n",
)

# 3.1.1.12 unreason -- Unusual Reason Phrase
UNREASON = msg(
    "SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e"
    "\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    "Content-Length: 154\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host198.example.com>\n"
    "\n",
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.198\r\ns=-\r\nc=IN IP4 192.0.2.198\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n\r\n\r\n\r\n\r\n",
)

# 3.1.1.13 noreason -- Empty Reason Phrase
NOREASON = msg(
    "SIP/2.0 100 \n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: noreason.asndj203insdf99223ndf\n"
    "CSeq: 35 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>\n"
    "\n"
)

VALID = {
    "3.1.1.1 wsinv": WSINV, "3.1.1.2 intmeth": INTMETH, "3.1.1.3 esc01": ESC01,
    "3.1.1.4 escnull": ESCNULL, "3.1.1.5 esc02": ESC02, "3.1.1.6 lwsdisp": LWSDISP,
    "3.1.1.7 longreq": LONGREQ, "3.1.1.8 dblreq": DBLREQ, "3.1.1.9 semiuri": SEMIURI,
    "3.1.1.10 transports": TRANSPORTS, "3.1.1.11 mpart01": MPART01,
    "3.1.1.12 unreason": UNREASON, "3.1.1.13 noreason": NOREASON,
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_rfc4475_valid_messages_parse_and_are_accepted(name):
    """RFC 4475 §3.1.1: each must be parsed and handled, not rejected."""
    result = triage(VALID[name])
    assert result.reply is None, f"{name} rejected: {result.reason}"
    assert result.message is not None, f"{name} dropped: {result.reason}"


def test_wsinv_folding_compact_and_case_are_understood():
    m = parse(WSINV)
    assert isinstance(m, Request)
    assert m.cseq == (9, "INVITE")
    assert m.to_tag == "1918181833n"
    assert len(m.get_all("via")) == 3
    assert m.top_via.host == "192.0.2.2"
    assert m.get("newfangledheader") == "newfangled value continued newfangled value"
    assert m.get("subject") == ""
    contact = m.address("contact")
    assert contact.display == 'Quoted string \\"\\"'.replace('\\"', '"')
    assert contact.params["q"] == "0.33"
    assert len(m.body) == 150


def test_esc02_is_an_unknown_method_not_register():
    m = parse(ESC02)
    assert isinstance(m, Request) and m.method == "RE%47IST%45R"
    assert len(m.get_all("contact")) == 2      # C%6Fntact is another header, not Contact
    assert m.get("c%6fntact") is not None


def test_dblreq_only_the_first_request_counts():
    m = parse(DBLREQ)
    assert isinstance(m, Request) and m.method == "REGISTER" and m.body == b""


def test_escaped_uri_user_parts_are_kept_escaped():
    m = parse(ESC01)
    assert parse_uri(m.uri).user == "sips%3Auser%40example.com"
    assert parse_uri(m.uri).host == "example.net"
    assert parse_address(m.get("contact")).uri.params["n%61me"] == "v%61lue%25%34%31"


def test_semiuri_user_part_may_hold_semicolons():
    m = parse(SEMIURI)
    uri = parse_uri(m.uri)
    assert uri.user == "user;par=u%40example.net" and uri.host == "example.com"
    assert len(m.get_all("accept")) == 6


def test_noreason_and_unreason_are_responses():
    assert isinstance(parse(NOREASON), Response) and parse(NOREASON).reason == ""
    assert parse(UNREASON).status == 200


# -- 3.1.2 invalid messages ---------------------------------------------------
INVALID_REQUESTS = {
    # 3.1.2.1 badinv01 -- Extraneous Header Field Separators
    "3.1.2.1 badinv01": (msg(
        "INVITE sip:user@example.com SIP/2.0\n"
        "To: sip:j.user@example.com\n"
        "From: sip:caller@example.net;tag=134161461246\n"
        "Max-Forwards: 7\n"
        "Call-ID: badinv01.0ha0isndaksdjasdf3234nas\n"
        "CSeq: 8 INVITE\n"
        "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
        "Contact: \"Joe\" <sip:joe@example.org>;;;;\n"
        "Content-Length: 0\n"
        "Content-Type: application/sdp\n"
        "\n"), None),
    # 3.1.2.2 clerr -- Content Length Larger Than Message
    "3.1.2.2 clerr": (msg(
        "INVITE sip:user@example.com SIP/2.0\n"
        "Max-Forwards: 80\n"
        "To: sip:j.user@example.com\n"
        "From: sip:caller@example.net;tag=93942939o2\n"
        "Contact: <sip:caller@hungry.example.net>\n"
        "Call-ID: clerr.0ha0isndaksdjweiafasdk3\n"
        "CSeq: 8 INVITE\n"
        "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\n"
        "Content-Type: application/sdp\n"
        "Content-Length: 9999\n"
        "\n", b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.155\r\ns=-\r\n"), "content-length"),
    # 3.1.2.3 scalar02 -- Negative Content-Length
    "3.1.2.3 scalar02": (msg(
        "REGISTER sip:example.com SIP/2.0\n"
        "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n"
        "To: <sip:user@example.com>\n"
        "From: <sip:user@example.com>;tag=239232jh3\n"
        "CSeq: 36 REGISTER\n"
        "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n"
        "Max-Forwards: 300\n"
        "Expires: 10000000000000000000000000000000000000000000000000000000000000000000000000000\n"
        "Contact: <sip:user@host129.example.com>\n"
        "  ;expires=280297596632815\n"
        "Content-Length: -999\n"
        "\n"), "content-length"),
    # 3.1.2.4 scalarlg -- Request Scalar Fields with Overlarge Values
    "3.1.2.4 scalarlg": (msg(
        "REGISTER sip:example.com SIP/2.0\n"
        "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n"
        "To: <sip:user@example.com>\n"
        "From: <sip:user@example.com>;tag=239232jh3\n"
        "CSeq: 36893488147419103232 REGISTER\n"
        "Call-ID: scalarlg.98asdh@192.0.2.1\n"
        "Max-Forwards: 300\n"
        "Expires: 10000000000000000000000000000000000000000000000000000000000000000000000000000\n"
        "Contact: <sip:user@host129.example.com>\n"
        "  ;expires=280297596632815\n"
        "Content-Length: 0\n"
        "\n"), "cseq"),
    # 3.1.2.5 quotbal -- Unterminated Quoted String in Display Name
    "3.1.2.5 quotbal": (msg(
        "INVITE sip:user@example.com SIP/2.0\n"
        "To: \"Mr. J. User <sip:j.user@example.com>\n"
        "From: sip:caller@example.net;tag=93334\n"
        "Max-Forwards: 10\n"
        "Call-ID: quotbal.aksdj\n"
        "Contact: <sip:caller@host59.example.net>\n"
        "CSeq: 8 INVITE\n"
        "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\n"
        "Content-Type: application/sdp\n"
        "Content-Length: 0\n"
        "\n"), "to"),
    # 3.1.2.6 ltgtruri -- <> Enclosing Request-URI
    "3.1.2.6 ltgtruri": (msg(
        "INVITE <sip:user@example.com> SIP/2.0\n"
        "To: sip:user@example.com\n"
        "From: sip:caller@example.net;tag=39291\n"
        "Max-Forwards: 23\n"
        "Call-ID: ltgtruri.1@192.0.2.5\n"
        "CSeq: 1 INVITE\n"
        "Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKkdjuw\n"
        "Contact: <sip:caller@host5.example.net>\n"
        "Content-Type: application/sdp\n"
        "Content-Length: 0\n"
        "\n"), "request-uri"),
    # 3.1.2.7 lwsruri -- Malformed SIP Request-URI (embedded LWS)
    "3.1.2.7 lwsruri": (msg(
        "INVITE sip:user@example.com; lr SIP/2.0\n"
        "To: sip:user@example.com;tag=3xfe-9921883-z9f\n"
        "From: sip:caller@example.net;tag=231413434\n"
        "Max-Forwards: 5\n"
        "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\n"
        "CSeq: 2130706432 INVITE\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\n"
        "Contact: <sip:caller@host1.example.net>\n"
        "Content-Length: 0\n"
        "\n"), "request-line"),
    # 3.1.2.8 lwsstart -- Multiple SP Separating Request-Line Elements
    "3.1.2.8 lwsstart": (msg(
        "INVITE  sip:user@example.com  SIP/2.0\n"
        "Max-Forwards: 8\n"
        "To: sip:user@example.com\n"
        "From: sip:caller@example.net;tag=8814\n"
        "Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\n"
        "CSeq: 1893884 INVITE\n"
        "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\n"
        "Contact: <sip:caller@host1.example.net>\n"
        "Content-Length: 0\n"
        "\n"), "request-line"),
    # 3.1.2.9 trws -- SP Characters at End of Request-Line
    "3.1.2.9 trws": (msg(
        "OPTIONS sip:remote-target@example.com SIP/2.0  \n"
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093\n"
        "To: <sip:remote-target@example.com>\n"
        "From: <sip:local-resource@example.com>;tag=329429089\n"
        "Call-ID: trws.oicu34958239neffasdhr2345r\n"
        "Accept: application/sdp\n"
        "CSeq: 238923 OPTIONS\n"
        "Max-Forwards: 70\n"
        "Content-Length: 0\n"
        "\n"), "request-line"),
    # 3.1.2.10 escruri -- Escaped Headers in SIP Request-URI
    "3.1.2.10 escruri": (msg(
        "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\n"
        "To: sip:user@example.com\n"
        "From: sip:caller@example.net;tag=341518\n"
        "Max-Forwards: 7\n"
        "Contact: <sip:caller@host39923.example.net>\n"
        "Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\n"
        "CSeq: 392 INVITE\n"
        "Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\n"
        "Content-Type: application/sdp\n"
        "Content-Length: 0\n"
        "\n"), "request-uri"),
    # 3.1.2.11 baddate -- Invalid Time Zone in Date Header Field
    "3.1.2.11 baddate": (msg(
        "INVITE sip:user@example.com SIP/2.0\n"
        "To: sip:user@example.com\n"
        "From: sip:caller@example.net;tag=2234923\n"
        "Max-Forwards: 70\n"
        "Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\n"
        "CSeq: 1392934 INVITE\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
        "Date: Fri, 01 Jan 2010 16:00:00 EST\n"
        "Contact: <sip:caller@host5.example.net>\n"
        "Content-Type: application/sdp\n"
        "Content-Length: 0\n"
        "\n"), "date"),
    # 3.1.2.12 regbadct -- Failure to Enclose name-addr URI in <>
    "3.1.2.12 regbadct": (msg(
        "REGISTER sip:example.com SIP/2.0\n"
        "To: sip:user@example.com\n"
        "From: sip:user@example.com;tag=998332\n"
        "Max-Forwards: 70\n"
        "Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\n"
        "CSeq: 1 REGISTER\n"
        "Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n"
        "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\n"
        "l: 0\n"
        "\n"), "contact"),
    # 3.1.2.13 badaspec -- Spaces within addr-spec
    "3.1.2.13 badaspec": (msg(
        "OPTIONS sip:user@example.org SIP/2.0\n"
        "Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n"
        "Max-Forwards: 70\n"
        "From: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\n"
        "To: \"Watson, Thomas\" < sip:t.watson@example.org >\n"
        "Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n"
        "Accept: application/sdp\n"
        "CSeq: 3923239 OPTIONS\n"
        "l: 0\n"
        "\n"), "to"),
    # 3.1.2.14 baddn -- Non-token Characters in Display Name
    "3.1.2.14 baddn": (msg(
        "OPTIONS sip:t.watson@example.org SIP/2.0\n"
        "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
        "Max-Forwards:      70\n"
        "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
        "To:      Watson, Thomas <sip:t.watson@example.org>\n"
        "Call-ID: baddn.31415@c.example.com\n"
        "Accept: application/sdp\n"
        "CSeq:    3923239 OPTIONS\n"
        "l: 0\n"
        "\n"), "from"),
    # 3.1.2.15 badvers -- Unknown Protocol Version (505)
    "3.1.2.15 badvers": (msg(
        "OPTIONS sip:t.watson@example.org SIP/7.0\n"
        "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n"
        "Max-Forwards:     70\n"
        "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n"
        "To:      T. Watson <sip:t.watson@example.org>\n"
        "Call-ID: badvers.31417@c.example.com\n"
        "CSeq:    1 OPTIONS\n"
        "l: 0\n"
        "\n"), None),
    # 3.1.2.16 mismatch01 -- Start Line and CSeq Method Mismatch
    "3.1.2.16 mismatch01": (msg(
        "OPTIONS sip:user@example.com SIP/2.0\n"
        "To: sip:j.user@example.com\n"
        "From: sip:caller@example.net;tag=34525\n"
        "Max-Forwards: 6\n"
        "Call-ID: mismatch01.dj0234sxdfl3\n"
        "CSeq: 8 INVITE\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
        "l: 0\n"
        "\n"), "cseq"),
    # 3.1.2.17 mismatch02 -- Unknown Method with CSeq Method Mismatch
    "3.1.2.17 mismatch02": (msg(
        "NEWMETHOD sip:user@example.com SIP/2.0\n"
        "To: sip:j.user@example.com\n"
        "From: sip:caller@example.net;tag=34525\n"
        "Max-Forwards: 6\n"
        "Call-ID: mismatch02.dj0234sxdfl3\n"
        "CSeq: 8 INVITE\n"
        "Contact: <sip:caller@host.example.net>\n"
        "Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\n"
        "Content-Type: application/sdp\n"
        "l: 0\n"
        "\n"), "cseq"),
    # 3.3.1 insuf -- Missing Required Header Fields
    "3.3.1 insuf": (msg(
        "INVITE sip:user@example.com SIP/2.0\n"
        "CSeq: 193942 INVITE\n"
        "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n"
        "Content-Type: application/sdp\n"
        "l: 0\n"
        "\n"), None),
    # 3.3.4 unksm2 -- Unknown URI Scheme in To of a REGISTER
    "3.3.4 unksm2": (msg(
        "REGISTER sip:example.com SIP/2.0\n"
        "To: isbn:2983792873\n"
        "From: <http://www.example.com>;tag=3234233\n"
        "Call-ID: unksm2.daksdj@hyphenated-host.example.com\n"
        "CSeq: 234902 REGISTER\n"
        "Max-Forwards: 70\n"
        "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\n"
        "Contact: <name@127.0.0.1>\n"
        "l: 0\n"
        "\n"), None),
    # 3.3.8 multi01 -- Multiple Values in Single Value Required Fields
    "3.3.8 multi01": (msg(
        "INVITE sip:user@company.com SIP/2.0\n"
        "Contact: <sip:caller@host25.example.net>\n"
        "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n"
        "Max-Forwards: 70\n"
        "CSeq: 5 INVITE\n"
        "Call-ID: multi01.98asdh@192.0.2.1\n"
        "CSeq: 59 INVITE\n"
        "Call-ID: multi01.98asdh@192.0.2.2\n"
        "From: sip:caller@example.com;tag=3413415\n"
        "To: sip:user@example.com\n"
        "To: sip:other@example.net\n"
        "From: sip:caller@example.net;tag=2923420123\n"
        "Content-Type: application/sdp\n"
        "l: 0\n"
        "\n"), "multiple"),
    # 3.3.9 mcl01 -- Multiple Content-Length Values
    "3.3.9 mcl01": (msg(
        "OPTIONS sip:user@example.com SIP/2.0\n"
        "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n"
        "To: sip:user@example.com\n"
        "From: sip:other@example.net;tag=3923942\n"
        "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n"
        "CSeq: 15932 OPTIONS\n"
        "Content-Length: 13\n"
        "Max-Forwards: 60\n"
        "Content-Length: 5\n"
        "Content-Type: text/plain\n"
        "\n", b"There's no way to know how many octets are supposed to be here.\r\n"), "content-length"),
}


@pytest.mark.parametrize("name", sorted(INVALID_REQUESTS))
def test_rfc4475_invalid_requests_get_an_error_with_a_reason(name):
    """RFC 4475 §3.1.2 / §3.3: respond with an error saying why; never handle them."""
    data, why = INVALID_REQUESTS[name]
    result = triage(data)
    assert result.message is None, f"{name} was accepted"
    assert result.reply is not None, f"{name} dropped ({result.reason}) but a response can be routed"
    assert 400 <= result.reply.status < 600
    if why:
        assert why in result.reply.reason.lower(), result.reply.reason
    # the response is routable: it carries the request's Via and Call-ID
    assert result.reply.get("via")


def test_badvers_gets_505():
    result = triage(INVALID_REQUESTS["3.1.2.15 badvers"][0])
    assert result.reply is not None and result.reply.status == 505


def test_insuf_missing_from_to_callid_is_dropped_or_400():
    """insuf has no From/To/Call-ID: a 400 cannot carry them; dropping is allowed."""
    result = triage(INVALID_REQUESTS["3.3.1 insuf"][0])
    assert result.message is None


# 3.1.2.18 bigcode -- Overlarge Response Code: must be dropped (no response to a response)
BIGCODE = msg(
    "SIP/2.0 4294967301 better not break the receiver\n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\n"
    "CSeq: 353494 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>\n"
    "\n"
)


def test_bigcode_response_is_dropped():
    result = triage(BIGCODE)
    assert result.message is None and result.reply is None
    assert "status code" in result.reason


# 3.3.2 unkscm -- Unknown Scheme in Request-URI: 416
UNKSCM = msg(
    "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=384\n"
    "Max-Forwards: 3\n"
    "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\n"
    "CSeq: 3923423 OPTIONS\n"
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    "Content-Length: 0\n"
    "\n"
)

# 3.3.3 novelsc -- Unknown Scheme in Header Field: valid
NOVELSC = msg(
    "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=384\n"
    "Max-Forwards: 3\n"
    "Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\n"
    "CSeq: 3923423 OPTIONS\n"
    "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
    "Content-Length: 0\n"
    "\n"
)

# 3.3.5 bext01 -- Use of Unsupported Extension: 420 with Unsupported
BEXT01 = msg(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.net;tag=242etr\n"
    "Max-Forwards: 6\n"
    "Call-ID: bext01.0ha0isndaksdj\n"
    "Require: nothingSupportsThis, nothingSupportsThisEither\n"
    "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\n"
    "CSeq: 8 OPTIONS\n"
    "Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\n"
    "Content-Length: 0\n"
    "\n"
)

# 3.3.15 inv2543 -- An RFC 2543 INVITE (no branch cookie): must be accepted
INV2543 = msg(
    "INVITE sip:UserB@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.15\n"
    "From: <sip:UserA@example.com>\n"
    "To: <sip:UserB@example.com>\n"
    "Call-ID: 242342367@192.0.2.15\n"
    "CSeq: 1 INVITE\n"
    "Max-Forwards: 70\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 0\n"
    "\n"
)


def test_unknown_request_uri_scheme_gets_416():
    for data in (UNKSCM, NOVELSC):
        result = triage(data)
        assert result.reply is not None and result.reply.status == 416


def test_unsupported_extension_gets_420_listing_it():
    result = triage(BEXT01)
    assert result.reply is not None and result.reply.status == 420
    assert result.reply.get_all("unsupported") == ["nothingSupportsThis", "nothingSupportsThisEither"]


def test_rfc2543_invite_without_branch_is_accepted():
    result = triage(INV2543)
    assert isinstance(result.message, Request) and result.message.from_tag is None
