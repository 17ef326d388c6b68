"""The media channel against a real RTP peer over loopback UDP: prompts, digits
(RFC 4733, in-band Goertzel, SIP INFO), recording, echo, tones, fax CNG, hangup."""

import asyncio
import wave
from array import array

import pytest

from tests.daemon_runner import free_rtp_range
from tests.media_engine.rtpphone import HOST, RtpPhone, until
from wpbxd.telephony.media import tones
from wpbxd.telephony.media.channel import ChannelClosed, MediaChannel
from wpbxd.telephony.media.dtmf import dtmf_pcm, tone_pcm
from wpbxd.telephony.media.negotiation import Negotiated
from wpbxd.telephony.media.relay import PortAllocator


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def pair(codec: str = "PCMU", event_pt: int | None = 101, **kw):
    allocator = PortAllocator(*free_rtp_range(10))
    channel = MediaChannel.open(allocator, HOST, **kw)
    phone = RtpPhone(codec, event_pt)
    phone.target = (HOST, channel.local_port)
    pt = phone.codec.payload_type
    channel.start(Negotiated(codec, pt, event_pt, HOST, phone.port, "sendrecv"))
    return allocator, channel, phone


def level(pcm: bytes) -> float:
    x = array("h")
    x.frombytes(pcm)
    return (sum(v * v for v in x) / max(1, len(x))) ** 0.5


def test_prompt_reaches_the_phone_and_rfc4733_digits_are_collected():
    async def scenario():
        allocator, channel, phone = pair()
        prompt = tone_pcm((500.0,), 8000, 6000)          # 1 s
        assert await channel.play(prompt) is None
        await until(lambda: level(phone.heard()) > 1000)
        assert ((HOST, channel.local_port)) in phone.sources   # symmetric RTP: from our port
        sender = asyncio.create_task(phone.send_digits("42#"))
        digits = await channel.collect_digits(10, first_timeout=5, inter_timeout=3)
        await sender
        assert digits == "42"
        channel.close()
        assert allocator.in_use() == 0
        phone.close()

    run(scenario())


def test_a_digit_interrupts_a_prompt_and_stays_for_collection():
    async def scenario():
        _, channel, phone = pair()
        long_prompt = tone_pcm((500.0,), 8000 * 20, 6000)   # 20 s: the key comes first
        asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(phone.send_digits("7")))
        assert await channel.play(long_prompt, interrupt="0123456789") == "7"
        assert await channel.collect_digits(1, 5, 3) == "7"
        channel.close()
        phone.close()

    run(scenario())


def test_collect_digits_times_out_with_what_it_has():
    async def scenario():
        _, channel, phone = pair()
        assert await channel.collect_digits(4, first_timeout=0.3, inter_timeout=0.3) == ""
        channel.inject_digit("9")                     # SIP INFO path
        assert await channel.collect_digits(4, first_timeout=0.3, inter_timeout=0.3) == "9"
        channel.close()
        phone.close()

    run(scenario())


def test_inband_dtmf_when_no_telephone_event_was_negotiated():
    async def scenario():
        _, channel, phone = pair(codec="PCMA", event_pt=None)
        pcm = dtmf_pcm("3", 960) + bytes(1600) + dtmf_pcm("#", 960) + bytes(1600)
        sender = asyncio.create_task(phone.send_pcm(pcm + bytes(3200)))
        assert await channel.collect_digits(4, 5, 3, terminators="") == "3#"
        await sender
        channel.close()
        phone.close()

    run(scenario())


def test_record_writes_a_wav_of_what_the_phone_said_and_stops_on_hash(tmp_path):
    async def scenario():
        _, channel, phone = pair()
        voice = tone_pcm((400.0,), 8000, 7000)           # 1 s "message"

        async def speak():
            await phone.send_pcm(voice)
            await phone.send_digits("#")

        talker = asyncio.create_task(speak())
        result = await channel.record(tmp_path / "msg.wav", max_seconds=30)
        await talker
        assert result.reason == "digit" and result.digit == "#"
        with wave.open(str(result.path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            recorded = wav.readframes(wav.getnframes())
        assert level(recorded) > 1000
        assert not list(tmp_path.glob(".*part"))
        channel.close()
        phone.close()

    run(scenario())


def test_hangup_during_recording_keeps_the_message_and_fails_later_verbs(tmp_path):
    async def scenario():
        _, channel, phone = pair()
        talker = asyncio.create_task(phone.send_pcm(tone_pcm((400.0,), 4000, 7000)))
        recording = asyncio.create_task(channel.record(tmp_path / "m.wav", max_seconds=30))
        await talker
        channel.close()                                  # the caller hung up
        result = await recording
        assert result.reason == "hangup" and result.path.exists() and result.seconds > 0
        with pytest.raises(ChannelClosed):
            await channel.collect_digits(1, 1, 1)
        with pytest.raises(ChannelClosed):
            await channel.play(b"\x00" * 320)
        phone.close()

    run(scenario())


def test_echo_sends_the_phones_own_audio_back():
    async def scenario():
        _, channel, phone = pair()
        echo = asyncio.create_task(channel.echo(seconds=3))
        voice = tone_pcm((600.0,), 8000, 7000)
        await phone.send_pcm(voice)
        await until(lambda: level(phone.heard()[-3200:]) > 1000)
        echo.cancel()
        channel.close()
        phone.close()

    run(scenario())


def test_g729_channel_plays_and_hears():
    async def scenario():
        _, channel, phone = pair(codec="G729", event_pt=101)
        assert await channel.play(tone_pcm((500.0,), 4000, 6000)) is None
        await until(lambda: level(phone.heard()) > 500)
        assert all(len(p.payload) == 20 for p in phone.received if p.payload_type == 18)
        sender = asyncio.create_task(phone.send_digits("5"))
        assert await channel.collect_digits(1, 5, 3) == "5"
        await sender
        channel.close()
        phone.close()

    run(scenario())


def test_fax_cng_is_detected_and_speech_is_not():
    async def scenario():
        _, channel, phone = pair(codec="PCMA", event_pt=None)
        cng = tone_pcm((1100.0,), 4800, 8000) + bytes(8000)        # T.30: 0.5 s on, then off
        sender = asyncio.create_task(phone.send_pcm(cng))
        assert await channel.detect_fax(5.0) is True
        await sender
        channel.close()
        phone.close()
        _, channel, phone = pair(codec="PCMA", event_pt=None)
        sender = asyncio.create_task(phone.send_pcm(tone_pcm((440.0, 880.0), 8000, 5000)))
        assert await channel.detect_fax(1.0) is False
        await sender
        channel.close()
        phone.close()

    run(scenario())


def test_music_loops_and_tones_follow_the_zone():
    async def scenario():
        _, channel, phone = pair(tone_zone="us")
        channel.start_music(tone_pcm((300.0,), 800, 6000))          # 0.1 s loop
        await until(lambda: len(phone.heard()) > 16000)            # looped past one second
        assert level(phone.heard()[-1600:]) > 1000
        channel.stop_music()
        before = len(phone.received)
        await channel.play_tone("busy", 1.0)
        assert len(phone.received) > before
        assert tones.cadence(channel.tone_zone, "busy")[0].freqs == (480.0, 620.0)
        channel.close()
        phone.close()

    run(scenario())


def test_channel_sends_rfc4733_digits():
    async def scenario():
        _, channel, phone = pair()
        channel.send_digit("8")
        await until(lambda: sum(1 for p in phone.received if p.payload_type == 101) >= 7)
        events = [p for p in phone.received if p.payload_type == 101]
        assert events[0].marker and len({p.timestamp for p in events}) == 1
        channel.close()
        phone.close()

    run(scenario())
