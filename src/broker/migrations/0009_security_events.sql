-- Security events for the admin UI's security page: failed logins and lockouts, refused
-- ExtAuth headers, refused transcoding edits, roles restarted after a crash. Bounded: the
-- broker keeps the newest rows only (proto::admin::MAX_EVENTS). Never a password or a key.
CREATE TABLE IF NOT EXISTS security_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
