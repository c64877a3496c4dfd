#!/usr/bin/env python3
"""A real Subsonic client walking a small library the way an app does: py-opensonic
(import name libopensonic), token auth over its default form POST to `<method>.view`.

    python3 tests/clients/walk.py --port N --user admin --password admin-pass

The library it expects is the one tests/client_walk.rs generates: three album artists
("The Alphas", "Bravo Band", "Charlie"), two albums each ("Album <a><b>", album 0 tagged Rock,
album 1 Jazz, years 2001..2006 in that order), three songs per album (tracks 1..3, titled
"Song <a><b><t>", except that "Charlie"'s second album has "Midnight Lantern" as track 2).

Every call below is a libopensonic method (10.4.1 has them all, so neither its private
_do_request nor urllib is needed). The library raises an errors.SonicError subclass on any
status="failed" answer, and mashumaro raises when a required field of a response object is
missing, so a malformed answer fails too.

Exits 2 when libopensonic cannot be imported, 1 on any failure, 0 when all steps passed.
"""

import argparse
import sys
import traceback

try:
    import libopensonic
except ImportError as e:
    print(f"cannot import libopensonic (pip install py-opensonic): {e}", file=sys.stderr)
    sys.exit(2)

APP = "redoubt-walk"
ARTISTS = ["The Alphas", "Bravo Band", "Charlie"]
ALBUMS = [f"Album {a}{b}" for a in range(3) for b in range(2)]
YEARS = {f"Album {a}{b}": 2001 + 2 * a + b for a in range(3) for b in range(2)}
GENRES = {f"Album {a}{b}": "Rock" if b == 0 else "Jazz" for a in range(3) for b in range(2)}
SONGS = 18
WORD = "Lantern"


def fail(msg):
    raise AssertionError(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


class Walk:
    """Shared state between the steps: what step 1 learnt about the library."""

    def __init__(self, conn, user):
        self.c = conn
        self.user = user
        self.artists = {}  # name -> id
        self.albums = {}  # name -> AlbumID3WithSongs
        self.songs = {}  # id -> Child (from getAlbum)

    # 1. getArtists -> getArtist -> getAlbum -> getSong
    def browse(self):
        artists = self.c.get_artists()
        expect(artists.ignored_articles is not None, "getArtists without ignoredArticles")
        found = [a for idx in (artists.index or []) for a in (idx.artist or [])]
        for idx in artists.index or []:
            expect(idx.name and idx.artist, f"an empty index entry: {idx}")
        names = sorted(a.name for a in found)
        expect(names == sorted(ARTISTS), f"getArtists names {names}, expected {sorted(ARTISTS)}")
        expect(len({a.id for a in found}) == 3, "artist ids are not distinct")
        for a in found:
            expect(a.album_count == 2, f"{a.name}: albumCount {a.album_count}")
            self.artists[a.name] = a.id
            artist = self.c.get_artist(a.id)
            expect(artist.id == a.id and artist.name == a.name, f"getArtist({a.id}) answered {artist.id}/{artist.name}")
            albums = artist.album or []
            expect(len(albums) == 2, f"{a.name}: getArtist lists {len(albums)} albums")
            for al in albums:
                expect(al.artist_id == a.id, f"{al.name}: artistId {al.artist_id}, not {a.id}")
                expect(al.song_count == 3, f"{al.name}: songCount {al.song_count}")
                album = self.c.get_album(al.id)
                expect(album.id == al.id and album.name == al.name, f"getAlbum({al.id}) answered {album.name}")
                expect(album.name in YEARS, f"unknown album {album.name!r}")
                expect(album.year == YEARS[album.name], f"{album.name}: year {album.year}")
                expect(album.genre == GENRES[album.name], f"{album.name}: genre {album.genre}")
                expect(album.artist == a.name, f"{album.name}: artist {album.artist}")
                expect(album.duration >= 0 and album.created, f"{album.name}: duration/created {album}")
                songs = album.song or []
                expect([s.track for s in songs] == [1, 2, 3], f"{album.name}: tracks {[s.track for s in songs]}")
                for s in songs:
                    expect(not s.is_dir, f"{s.title}: isDir")
                    expect(s.album_id == album.id and s.album == album.name, f"{s.title}: album {s.album_id}/{s.album}")
                    expect(s.artist == a.name, f"{s.title}: artist {s.artist}")
                    expect(s.suffix == "mp3" and s.content_type == "audio/mpeg", f"{s.title}: {s.suffix} {s.content_type}")
                    expect(s.id not in self.songs, f"song id {s.id} listed twice")
                    self.songs[s.id] = s
                first = songs[0]
                song = self.c.get_song(first.id)
                expect(song.id == first.id and song.title == first.title, f"getSong({first.id}) answered {song.title}")
                expect(song.album_id == album.id and song.year == album.year, f"getSong({first.id}): {song}")
                self.albums[album.name] = album
        expect(sorted(self.albums) == ALBUMS, f"albums {sorted(self.albums)}")
        expect(len(self.songs) == SONGS, f"{len(self.songs)} songs, expected {SONGS}")
        return f"{len(found)} artists, {len(self.albums)} albums, {len(self.songs)} songs"

    def album_ids(self, names):
        return [self.albums[n].id for n in names]

    # 2. getAlbumList2 and getRandomSongs
    def lists(self):
        every = set(self.album_ids(ALBUMS))
        newest = self.c.get_album_list2("newest", size=10)
        expect({a.id for a in newest} == every, f"newest: {[a.name for a in newest]}")
        alpha = self.c.get_album_list2("alphabeticalByName", size=10)
        expect([a.name for a in alpha] == ALBUMS, f"alphabeticalByName: {[a.name for a in alpha]}")
        page = self.c.get_album_list2("alphabeticalByName", size=2, offset=4)
        expect([a.name for a in page] == ALBUMS[4:6], f"alphabeticalByName size=2 offset=4: {[a.name for a in page]}")
        rnd = self.c.get_album_list2("random", size=10)
        expect(len(rnd) == 6 and {a.id for a in rnd} == every, f"random: {[a.name for a in rnd]}")
        rnd = self.c.get_album_list2("random", size=2)
        expect(len(rnd) == 2 and {a.id for a in rnd} <= every, f"random size=2: {[a.name for a in rnd]}")
        by_year = self.c.get_album_list2("byYear", from_year=2002, to_year=2004)
        expect([a.year for a in by_year] == [2002, 2003, 2004], f"byYear 2002..2004: {[a.year for a in by_year]}")
        by_year = self.c.get_album_list2("byYear", from_year=2004, to_year=2002)
        expect([a.year for a in by_year] == [2004, 2003, 2002], f"byYear 2004..2002: {[a.year for a in by_year]}")
        rock = self.c.get_album_list2("byGenre", genre="Rock")
        expect(sorted(a.name for a in rock) == ["Album 00", "Album 10", "Album 20"], f"byGenre Rock: {rock}")
        expect(all(a.genre == "Rock" for a in rock), f"byGenre Rock: genres {[a.genre for a in rock]}")
        songs = self.c.get_random_songs(size=5)
        expect(len(songs) == 5 and len({s.id for s in songs}) == 5, f"getRandomSongs size=5: {len(songs)}")
        expect({s.id for s in songs} <= set(self.songs), "getRandomSongs: an unknown song")
        songs = self.c.get_random_songs(size=50)
        expect({s.id for s in songs} == set(self.songs), f"getRandomSongs size=50: {len(songs)} songs")
        jazz = self.c.get_random_songs(size=50, genre="Jazz")
        expect(len(jazz) == 9 and all(s.genre == "Jazz" for s in jazz), f"getRandomSongs Jazz: {len(jazz)}")
        years = self.c.get_random_songs(size=50, from_year=2005, to_year=2006)
        expect(len(years) == 6 and all(s.year in (2005, 2006) for s in years), f"getRandomSongs 2005..2006: {years}")
        return "newest, alphabeticalByName, random, byYear, byGenre, getRandomSongs"

    # 3. search3
    def search(self):
        seen = []
        offset = 0
        while True:
            r = self.c.search3("", artist_count=0, album_count=0, song_count=5, song_offset=offset)
            page = r.song or []
            if not page:
                break
            expect(len(page) <= 5, f"search3 songCount=5 gave {len(page)}")
            seen.extend(s.id for s in page)
            offset += 5
            expect(offset <= 100, "search3 paging never ends")
        expect(len(seen) == SONGS and set(seen) == set(self.songs), f"search3 '' paged: {len(seen)} songs, {len(set(seen))} distinct")
        r = self.c.search3(WORD.lower())
        hits = [s.title for s in r.song or []]
        expect(hits == ["Midnight Lantern"], f"search3 {WORD.lower()!r}: {hits}")
        r = self.c.search3("bravo")
        expect([a.name for a in r.artist or []] == ["Bravo Band"], f"search3 'bravo' artists: {r.artist}")
        expect(len(r.song or []) == 6, f"search3 'bravo' songs: {len(r.song or [])}")
        return f"{len(seen)} songs in pages of 5; {WORD!r} found"

    # 4. star, setRating, scrobble, getStarred2, frequent/recent, unstar
    def annotate(self):
        album = self.albums["Album 11"]
        song = album.song[1]
        played = album.song[2]
        self.c.star(sids=[song.id], album_ids=[album.id])
        self.c.set_rating(song.id, 4)
        self.c.scrobble(played.id, submission=True)
        st = self.c.get_starred2()
        expect([s.id for s in st.song or []] == [song.id], f"getStarred2 songs: {st.song}")
        expect([a.id for a in st.album or []] == [album.id], f"getStarred2 albums: {st.album}")
        expect(st.song[0].starred and st.album[0].starred, "starred items without a starred date")
        got = self.c.get_song(song.id)
        expect(got.user_rating == 4 and got.starred, f"getSong after star/setRating: {got}")
        got = self.c.get_song(played.id)
        expect(got.play_count == 1 and got.played, f"getSong after scrobble: playCount {got.play_count}, played {got.played}")
        for ltype in ("frequent", "recent", "starred"):
            ids = [a.id for a in self.c.get_album_list2(ltype)]
            expect(ids == [album.id], f"getAlbumList2 {ltype}: {ids}, expected [{album.id}]")
        self.c.unstar(sids=[song.id], album_ids=[album.id])
        st = self.c.get_starred2()
        expect(not st.song and not st.album and not st.artist, f"getStarred2 after unstar: {st}")
        expect(not self.c.get_song(song.id).starred, "song still starred after unstar")
        self.c.set_rating(song.id, 0)
        expect(self.c.get_song(song.id).user_rating in (None, 0), "rating 0 did not clear")
        return "star, setRating, scrobble, getStarred2, frequent, recent, unstar"

    # 5. playlists
    def playlists(self):
        ids = [s.id for s in self.albums["Album 00"].song]
        extra = self.albums["Album 21"].song[0].id
        # createPlaylist returns only True in libopensonic, so the new id comes from getPlaylists.
        self.c.create_playlist(name="Walk list", song_ids=ids)
        mine = [p for p in self.c.get_playlists() if p.name == "Walk list"]
        expect(len(mine) == 1, f"getPlaylists: {self.c.get_playlists()}")
        pl = mine[0]
        expect(pl.song_count == 3 and pl.owner == self.user, f"getPlaylists entry: {pl}")
        self.c.update_playlist(pl.id, name="Walk list renamed", song_ids_to_add=[extra], song_indices_to_remove=[0])
        got = self.c.get_playlist(pl.id)
        entries = [s.id for s in got.entry or []]
        expect(got.name == "Walk list renamed", f"getPlaylist name {got.name!r}")
        expect(got.song_count == 3 and entries == ids[1:] + [extra], f"getPlaylist entries {entries}, songCount {got.song_count}")
        self.c.delete_playlist(pl.id)
        left = [p.id for p in self.c.get_playlists()]
        expect(pl.id not in left, f"playlist {pl.id} still listed after deletePlaylist")
        return f"created, renamed, edited, deleted {pl.id}"

    # 6. play queue
    def queue(self):
        ids = [self.albums["Album 20"].song[2].id, self.albums["Album 01"].song[0].id, self.albums["Album 10"].song[1].id]
        self.c.save_play_queue(ids, current=ids[1], position=65432)
        q = self.c.get_play_queue()
        got = [s.id for s in q.entry or []]
        expect(got == ids, f"getPlayQueue entries {got}, expected {ids}")
        expect(q.current == ids[1] and q.position == 65432, f"getPlayQueue current {q.current}, position {q.position}")
        expect(q.username == self.user and q.changed_by == APP, f"getPlayQueue user {q.username}, changedBy {q.changed_by}")
        return f"{len(got)} entries, current and position kept"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="http://127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    print(f"libopensonic {libopensonic.__version__}")

    # Token auth (u, t=md5(password+salt), s) over a form POST to <method>.view: the defaults.
    conn = libopensonic.Connection(args.host, args.user, args.password, port=args.port, app_name=APP)
    walk = Walk(conn, args.user)
    steps = [walk.browse, walk.lists, walk.search, walk.annotate, walk.playlists, walk.queue]
    try:
        for step in steps:
            # Each step builds on the ones before it, so the walk stops at the first failure.
            try:
                result = step()
            except Exception:
                print(f"FAIL {step.__name__}:\n{traceback.format_exc()}", file=sys.stderr)
                return 1
            print(f"ok   {step.__name__}: {result}")
    finally:
        conn.cleanup()
    print(f"all {len(steps)} steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
