-- Per-user library access (Navidrome 0.58's multi-library): which music folders a user may
-- see. A user without a row in folder_restrictions sees every music folder, those added later
-- too; that is every user until an admin restricts them, so an upgrade changes nothing anyone
-- sees. A restricted user sees the folders of their folder_grants rows. Admins always see
-- every folder. src/broker/access.rs builds every visibility condition on these tables.
-- (Tables, not a users column: migrations from 0007 on may run again, see ingest's tests.)
CREATE TABLE IF NOT EXISTS folder_restrictions (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS folder_grants (
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    music_folder_id INTEGER NOT NULL REFERENCES music_folders(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, music_folder_id)
) STRICT, WITHOUT ROWID;

-- (user, music folder) for every folder each user may see.
CREATE VIEW IF NOT EXISTS user_music_folders AS
SELECT u.id AS user_id, m.id AS music_folder_id
FROM users u JOIN music_folders m
WHERE u.is_admin = 1
   OR NOT EXISTS (SELECT 1 FROM folder_restrictions r WHERE r.user_id = u.id)
   OR EXISTS (SELECT 1 FROM folder_grants g WHERE g.user_id = u.id AND g.music_folder_id = m.id);
