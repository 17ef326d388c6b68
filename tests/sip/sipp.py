"""Build sipp scenarios and run sipp against a wpbxd (tests and bench share this).

sipp quirks (TESTING-NOTES.md): ``[authentication ...]`` cannot nest ``[fieldN]``,
so the whole keyword comes from the CSV; sipp's digest ``uri`` is ``sip:host:port``.
"""

import subprocess
from pathlib import Path

SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
{direction}"""

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
"""
TAIL = """
<ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000"/>
</scenario>
"""


def register() -> str:
    """CSV: user;[authentication ...]."""
    msg = """
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: {cseq} REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
{auth}Max-Forwards: 70
Expires: 3600
Content-Length: 0

]]></send>
"""
    return (HEAD.format(name="register") + msg.format(cseq=1, auth="")
            + '  <recv response="401" auth="true"/>\n'
            + msg.format(cseq=2, auth="[field1]\n") + '  <recv response="200" rtd="true"/>\n' + TAIL)


def _invite(cseq: int, auth: bool, direction: str = "a=sendrecv", offer: bool = True) -> str:
    """``offer=False``: no SDP (a delayed offer, RFC 3261 §13.2.1)."""
    txn = ' start_txn="invite"' if auth else ""
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{SDP.format(direction=direction)}" \
        if offer else "Content-Length: 0\n"
    return f"""
  <send retrans="500"{txn}><![CDATA[
INVITE sip:[field2]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: "Caller [field0]" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
To: <sip:[field2]@[remote_ip]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
{"[field1]" + chr(10) if auth else ""}Max-Forwards: 70
{body}
]]></send>
"""


def _ack(cseq: int, last_via: bool = False, uri: str = "[next_url]", answer: str = "") -> str:
    """``answer``: an SDP body (the answer to an offer made in the 200 OK)."""
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{answer}" if answer else "Content-Length: 0\n"
    via = "[last_Via:]" if last_via else "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport"
    to = "[last_To:]" if last_via else "[last_To:]\n[routes]"
    txn = ' ack_txn="invite"' if cseq == 2 else ""
    return f"""
  <send{txn}><![CDATA[
ACK {uri} SIP/2.0
{via}
From: "Caller [field0]" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
{to}
Call-ID: [call_id]
CSeq: {cseq} ACK
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
{body}
]]></send>
"""


def _in_dialog(method: str, cseq: int, body: str = "") -> str:
    ctype = "Content-Type: application/sdp\n" if body else ""
    return f"""
  <send retrans="500"><![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: "Caller [field0]" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
{ctype}Content-Length: [len]

{body}
]]></send>
"""


def _authenticated_invite(offer: bool = True) -> str:
    return (_invite(1, False, offer=offer)
            + '  <recv response="100" optional="true"/>\n'
            + '  <recv response="407" auth="true"/>\n'
            + _ack(1, last_via=True, uri="sip:[field2]@[remote_ip]:[remote_port]")
            + _invite(2, True, offer=offer)
            + '  <recv response="100" optional="true" response_txn="invite"/>\n')


def uac_call(pcap: str | None = None, hold: bool = False) -> str:
    """CSV: caller;[authentication ...];callee. Answered call, optional RTP, hold/resume, BYE."""
    text = HEAD.format(name="uac-call") + _authenticated_invite()
    text += ('  <recv response="180" optional="true" response_txn="invite"/>\n'
             '  <recv response="183" optional="true" response_txn="invite"/>\n')
    text += '  <recv response="200" rrs="true" rtd="true" response_txn="invite"/>\n' + _ack(2)
    if pcap:
        text += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    text += '  <pause/>\n'
    if hold:
        text += _in_dialog("INVITE", 3, SDP.format(direction="a=sendonly"))
        text += '  <recv response="100" optional="true"/>\n  <recv response="200"/>\n' + _ack(3)
        text += '  <pause milliseconds="300"/>\n'
        text += _in_dialog("INVITE", 4, SDP.format(direction="a=sendrecv"))
        text += '  <recv response="100" optional="true"/>\n  <recv response="200"/>\n' + _ack(4)
    text += _in_dialog("BYE", 10) + '  <recv response="200" crlf="true"/>\n'
    return text + TAIL


def uac_delayed_offer(pcap: str | None = None, answer: bool = True) -> str:
    """CSV: caller;[authentication ...];callee. INVITE without SDP; the 200 OK must carry
    the offer (PCMA checked), the ACK answers PCMA (or nothing, ``answer=False``), RTP, BYE."""
    text = HEAD.format(name="uac-delayed-offer") + _authenticated_invite(offer=False)
    text += ('  <recv response="180" optional="true" response_txn="invite"/>\n'
             '  <recv response="200" rrs="true" rtd="true" response_txn="invite">\n'
             '    <action><ereg regexp="m=audio [0-9]+ RTP/AVP [0-9 ]*8" search_in="body" check_it="true"'
             ' assign_to="offer"/></action>\n  </recv>\n')
    sdp_answer = ("v=0\no=user1 1 1 IN IP[local_ip_type] [local_ip]\ns=-\nc=IN IP[media_ip_type] [media_ip]\n"
                  "t=0 0\nm=audio [media_port] RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\n"
                  "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=sendrecv") if answer else ""
    # sipp aborts on a variable assigned and never used: the ACK names what was checked
    text += _ack(2, answer=sdp_answer).replace("Max-Forwards: 70\n", "Max-Forwards: 70\nX-Offer: [$offer]\n", 1)
    if pcap:
        text += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    if answer:
        text += '  <pause/>\n' + _in_dialog("BYE", 10) + '  <recv response="200" crlf="true"/>\n'
    else:
        text += answer_bye()
    return text + TAIL


def uac_expect(code: int) -> str:
    """CSV: caller;[authentication ...];callee. The call must fail with ``code``."""
    return (HEAD.format(name=f"uac-expect-{code}") + _authenticated_invite()
            + '  <recv response="180" optional="true" response_txn="invite"/>\n'
            + f'  <recv response="{code}" response_txn="invite"/>\n' + _ack(2, last_via=True, uri="sip:[field2]@[remote_ip]:[remote_port]")
            + TAIL)


def uac_cancel() -> str:
    """CSV: caller;[authentication ...];callee. Rings, then the caller cancels: 487."""
    cancel = """
  <send><![CDATA[
CANCEL sip:[field2]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: "Caller [field0]" <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag[call_number]
To: <sip:[field2]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
"""
    return (HEAD.format(name="uac-cancel") + _authenticated_invite()
            + '  <recv response="180" response_txn="invite"/>\n  <pause milliseconds="300"/>\n' + cancel
            + '  <recv response="200"/>\n  <recv response="487" response_txn="invite"/>\n'
            + _ack(2, last_via=False, uri="sip:[field2]@[remote_ip]:[remote_port]").replace(
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport", "[last_Via:]")
            + TAIL)


def uas(mode: str = "answer", strict_ack: bool = True) -> str:
    """A callee: ``answer`` (180, 200, then BYE from the caller), ``busy`` (486), ``ring`` (until CANCEL).

    ``strict_ack=False`` lets the BYE overtake the ACK (a multi-worker proxy may reorder them).
    """
    text = HEAD.format(name=f"uas-{mode}")
    if mode == "ring":
        text += """  <recv request="INVITE" crlf="true">
    <action><ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cs2"/></action>
  </recv>
"""
    else:
        text += '  <recv request="INVITE" crlf="true"/>\n'
    if mode == "busy":
        text += _reply("486 Busy Here") + '  <recv request="ACK"/>\n'
        return text + TAIL
    text += _reply("180 Ringing")
    if mode == "ring":
        text += '  <recv request="CANCEL"/>\n' + _reply("200 OK", cancel=True)
        text += _reply("487 Request Terminated", cseq_invite=True) + '  <recv request="ACK"/>\n'
        return text + TAIL
    optional = "" if strict_ack else ' optional="true"'
    text += _reply("200 OK", sdp=True) + f'  <recv request="ACK" rtd="true" crlf="true"{optional}/>\n'
    if mode == "hold":
        for _ in range(2):
            text += ('  <recv request="INVITE"/>\n' + _reply("200 OK", sdp=True, tag=False)
                     + '  <recv request="ACK"/>\n')
    text += '  <recv request="BYE"/>\n' + _reply("200 OK", tag=False) + '  <pause milliseconds="100"/>\n'
    return text + TAIL


def _reply(status: str, sdp: bool = False, cancel: bool = False, cseq_invite: bool = False,
           tag: bool = True) -> str:
    body = SDP.format(direction="") if sdp else ""
    ctype = "Content-Type: application/sdp\n" if sdp else ""
    cseq = "[last_CSeq:]"
    if cseq_invite:
        cseq = "CSeq: [$cs2] INVITE"
    to = "[last_To:];tag=[pid]SIPpTag01[call_number]" if tag else "[last_To:]"
    if status.startswith("2") and not cancel:
        to += "\n[last_Record-Route:]"
    return f"""
  <send><![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
{to}
[last_Call-ID:]
{cseq}
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{ctype}Content-Length: [len]

{body}
]]></send>
"""


def answer_bye() -> str:
    """Wait for the PBX's BYE and answer it 200 OK."""
    return '''  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
'''


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def users_csv(path: Path, users: list[tuple[str, str]], callee: str | None = None) -> Path:
    lines = ["SEQUENTIAL"]
    for ext, password in users:
        row = f"{ext};[authentication username={ext} password={password}]"
        if callee is not None:
            row += f";{callee}"
        lines.append(row)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(scenario: Path, server: str, *args: str, timeout: float = 60.0, cwd: Path | None = None,
        wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    cmd = ["sipp", server, "-sf", str(scenario), "-nostdin", "-i", "127.0.0.1", "-trace_err",
           "-timeout", f"{int(timeout)}s", "-timeout_error", "-max_retrans", "5", *args]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, cwd=cwd)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def errors(cwd: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in cwd.glob("*_errors.log"))
