"""A fax needs G.711: ``answer_locally(codecs=FAX_CODECS)`` answers a remote peer, whose
policy puts G.729 first, with PCMA/PCMU, and refuses (488, before taking a port) an
offer with no G.711 at all. Seed "SIP-RTP" policy otherwise unchanged."""

import asyncio

import pytest

from tests.daemon_runner import free_rtp_range
from tests.media_engine.test_callmedia import HOST, offer
from wpbxd.telephony.media.callmedia import NegotiationError, answer_locally
from wpbxd.telephony.media.negotiation import FAX_CODECS, CodecPolicy, put_first, restrict
from wpbxd.telephony.media.relay import PortAllocator


def test_restrict_keeps_the_policy_order_of_the_allowed_codecs():
    assert restrict(("G729", "PCMA", "PCMU"), FAX_CODECS) == ("PCMA", "PCMU")
    assert restrict(("G729", "PCMU"), None) == ("G729", "PCMU")


def test_a_fax_answer_is_g711_even_where_the_policy_prefers_g729():
    async def scenario():
        allocator = PortAllocator(*free_rtp_range(10))
        remote = CodecPolicy(lan_networks=())                 # the peer counts as remote: G.729 first
        speech = answer_locally(offer("18 0 8 101"), allocator, HOST, HOST, remote)
        faxed = answer_locally(offer("18 0 8 101"), allocator, HOST, HOST, remote, codecs=FAX_CODECS)
        assert speech.negotiated.codec == "G729"
        assert faxed.negotiated.codec == "PCMA" and faxed.answer.media[0].formats == ["8", "101"]
        speech.channel.close()
        faxed.channel.close()
        with pytest.raises(NegotiationError, match="no common codec"):
            answer_locally(offer("18 101"), allocator, HOST, HOST, remote, codecs=FAX_CODECS)
        assert allocator.in_use() == 0

    asyncio.run(scenario())


def test_a_fax_detector_prefers_g711_but_still_answers_a_g729_only_caller():
    """``first=FAX_CODECS``: G.711 when offered (a fax can then be received after the jump),
    the policy's codec otherwise (a voice caller with G.729 only is not refused)."""
    assert put_first(("G729", "PCMA", "PCMU"), FAX_CODECS) == ("PCMA", "PCMU", "G729")
    assert put_first(("G729",), FAX_CODECS) == ("G729",)

    async def scenario():
        allocator = PortAllocator(*free_rtp_range(10))
        remote = CodecPolicy(lan_networks=())                 # G.729 first by policy
        both = answer_locally(offer("18 0 8 101"), allocator, HOST, HOST, remote, first=FAX_CODECS)
        only = answer_locally(offer("18 101"), allocator, HOST, HOST, remote, first=FAX_CODECS)
        assert both.negotiated.codec == "PCMA" and only.negotiated.codec == "G729"
        both.channel.close()
        only.channel.close()
        assert allocator.in_use() == 0

    asyncio.run(scenario())
