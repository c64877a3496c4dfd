#!/usr/bin/env python3
"""A real client of the OpenSubsonic transcoding extension: py-opensonic's
get_transcode_decision (a JSON ClientInfo body) and get_transcode_stream, then ffprobe on
what came back.

    python3 tests/clients/transcode.py --port N --user U --password P --song ID --out DIR

The song is a FLAC file (tests/transcoding.rs makes it). The client plays mp3 only, at most
128 kbps; the server must answer a transcode to mp3 at 128000 bps, and stream mp3 at about
that rate. Exits 2 when libopensonic cannot be imported, 1 on any failure.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys

try:
    import libopensonic
except ImportError as e:
    print(f"cannot import libopensonic (pip install py-opensonic): {e}", file=sys.stderr)
    sys.exit(2)

MP3_AT_128 = {
    "name": "redoubt-transcode",
    "platform": "test",
    "maxAudioBitrate": 128000,
    "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": ["http"]}],
    "transcodingProfiles": [{"container": "mp3", "audioCodec": "mp3", "protocol": "http"}],
}


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="http://127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--song", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    conn = libopensonic.Connection(args.host, args.user, args.password, port=args.port, app_name="redoubt-transcode")

    names = {e.name for e in conn.get_open_subsonic_extensions()}
    expect("transcoding" in names, f"transcoding not advertised: {sorted(names)}")

    d = conn.get_transcode_decision(args.song, "song", MP3_AT_128)
    expect(not d.can_direct_play and d.can_transcode, f"decision: {d}")
    t = d.transcode_stream
    expect(t is not None and (t.container, t.codec, t.audio_bitrate) == ("mp3", "mp3", 128000), f"transcodeStream: {t}")
    expect(d.source_stream.codec == "flac", f"sourceStream: {d.source_stream}")
    print(f"ok   decision: {d.transcode_params} {t.codec} {t.audio_bitrate}")

    # The sync Connection hands back aiohttp's response; its body is read on the
    # connection's own event loop.
    res = conn.get_transcode_stream(args.song, "song", d.transcode_params)
    data = asyncio.run_coroutine_threadsafe(res.read(), conn._loop).result()
    expect(res.headers.get("Content-Type") == "audio/mpeg", f"Content-Type {res.headers.get('Content-Type')}")
    path = os.path.join(args.out, "client-transcode.mp3")
    with open(path, "wb") as f:
        f.write(data)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", path], capture_output=True, check=True
    )
    stream = json.loads(probe.stdout)["streams"][0]
    kbps = int(stream["bit_rate"]) / 1000
    expect(stream["codec_name"] == "mp3", f"ffprobe: {stream['codec_name']}")
    expect(abs(kbps - 128) < 8, f"ffprobe: {kbps} kbps")
    print(f"ok   stream: {stream['codec_name']} {kbps} kbps, {len(data)} bytes")
    conn.cleanup()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        import traceback

        traceback.print_exc()
        print(f"FAIL {e}", file=sys.stderr)
        sys.exit(1)
