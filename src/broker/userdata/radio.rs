//! Internet radio stations: everyone lists them, admins change them.

use rusqlite::params;

use super::{invalid, valid_http_url, valid_name, Ctx};
use crate::broker::db::{new_id, now};
use crate::proto::error::{internal, not_authorized, not_found};
use crate::proto::userdata::{RadioRec, UserDataAnswer as A};
use crate::proto::ApiError;

pub(super) fn list(cx: Ctx<'_>) -> Result<A, ApiError> {
    let conn = cx.conn;
    let mut st = conn
        .prepare_cached(
            "SELECT id, name, stream_url, homepage_url FROM radio_stations ORDER BY name COLLATE NOCASE, id",
        )
        .map_err(internal)?;
    let rows = st
        .query_map([], |r| {
            Ok(RadioRec { id: r.get(0)?, name: r.get(1)?, stream_url: r.get(2)?, homepage_url: r.get(3)? })
        })
        .map_err(internal)?;
    Ok(A::RadioStations(rows.collect::<Result<_, _>>().map_err(internal)?))
}

pub(super) fn create(cx: Ctx<'_>, name: &str, stream_url: &str, homepage_url: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if !me.admin {
        return Err(not_authorized());
    }
    valid_station(name, stream_url, homepage_url)?;
    conn.prepare_cached(
        "INSERT INTO radio_stations (id, name, stream_url, homepage_url, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(internal)?
    .execute(params![new_id(), name, stream_url, homepage_url, now()])
    .map_err(internal)?;
    Ok(A::Done)
}

pub(super) fn update(cx: Ctx<'_>, id: &str, name: &str, stream_url: &str, homepage_url: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if !me.admin {
        return Err(not_authorized());
    }
    valid_station(name, stream_url, homepage_url)?;
    let n = conn
        .prepare_cached("UPDATE radio_stations SET name = ?2, stream_url = ?3, homepage_url = ?4 WHERE id = ?1")
        .map_err(internal)?
        .execute(params![id, name, stream_url, homepage_url])
        .map_err(internal)?;
    if n == 0 {
        return Err(not_found("Internet radio station"));
    }
    Ok(A::Done)
}

pub(super) fn delete(cx: Ctx<'_>, id: &str) -> Result<A, ApiError> {
    let Ctx { conn, me, .. } = cx;
    if !me.admin {
        return Err(not_authorized());
    }
    let n = conn
        .prepare_cached("DELETE FROM radio_stations WHERE id = ?1")
        .map_err(internal)?
        .execute([id])
        .map_err(internal)?;
    if n == 0 {
        return Err(not_found("Internet radio station"));
    }
    Ok(A::Done)
}

fn valid_station(name: &str, stream_url: &str, homepage_url: &str) -> Result<(), ApiError> {
    valid_name("station name", name, 500)?;
    if !valid_http_url(stream_url) {
        return Err(invalid("Invalid streamUrl: an http or https URL"));
    }
    if !homepage_url.is_empty() && !valid_http_url(homepage_url) {
        return Err(invalid("Invalid homepageUrl: an http or https URL"));
    }
    Ok(())
}
