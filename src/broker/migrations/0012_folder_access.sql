-- Per-user library access (Navidrome 0.58's multi-library): which music folders a user may
-- see. A user with all_folders = 1 sees every music folder, those added later too; that is
-- every user until an admin restricts them, so an upgrade changes nothing anyone sees.
-- Admins always see every folder. Read only through the user_music_folders view, which
-- src/broker/access.rs builds every visibility condition on.
ALTER TABLE users ADD COLUMN all_folders INTEGER NOT NULL DEFAULT 1 CHECK (all_folders IN (0, 1));

CREATE TABLE folder_grants (
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    music_folder_id INTEGER NOT NULL REFERENCES music_folders(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, music_folder_id)
) STRICT, WITHOUT ROWID;

-- (user, music folder) for every folder each user may see.
CREATE VIEW user_music_folders AS
SELECT u.id AS user_id, m.id AS music_folder_id
FROM users u JOIN music_folders m
WHERE u.is_admin = 1 OR u.all_folders = 1
   OR EXISTS (SELECT 1 FROM folder_grants g WHERE g.user_id = u.id AND g.music_folder_id = m.id);
