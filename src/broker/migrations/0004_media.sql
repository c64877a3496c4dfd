-- Streaming: transcoding profiles and players.
--
-- A profile's command is split into argv (never run by a shell) and must name the configured
-- ffmpeg; %s is the file's path, %b the bit rate in kbps, %t the start offset in seconds.
-- The defaults are Navidrome's. Only with EnableTranscodingConfig may admins change them.
CREATE TABLE transcodings (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    target_format    TEXT NOT NULL UNIQUE,     -- what `format=` names, and the suffix served
    default_bit_rate INTEGER NOT NULL DEFAULT 0, -- kbps; 0: lossless
    command          TEXT NOT NULL
) STRICT;

INSERT INTO transcodings (id, name, target_format, default_bit_rate, command) VALUES
    ('mp3',  'mp3 audio',  'mp3',  192, 'ffmpeg -ss %t -i %s -map 0:a:0 -b:a %bk -v 0 -f mp3 -'),
    ('opus', 'opus audio', 'opus', 128, 'ffmpeg -ss %t -i %s -map 0:a:0 -b:a %bk -v 0 -c:a libopus -f opus -'),
    ('aac',  'aac audio',  'aac',  256, 'ffmpeg -ss %t -i %s -map 0:a:0 -b:a %bk -v 0 -c:a aac -f adts -'),
    ('flac', 'flac audio', 'flac', 0,   'ffmpeg -ss %t -i %s -map 0:a:0 -v 0 -c:a flac -f flac -');

-- A player is a user's client (the Subsonic `c` parameter). Each may force a format and cap
-- the bit rate; players appear the first time they stream.
CREATE TABLE players (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client       TEXT NOT NULL,
    format       TEXT,                       -- a transcodings.target_format, 'raw', or NULL
    max_bit_rate INTEGER NOT NULL DEFAULT 0, -- kbps; 0: no cap
    last_seen    INTEGER NOT NULL,
    last_addr    TEXT NOT NULL DEFAULT '',
    UNIQUE (user_id, client)
) STRICT;
