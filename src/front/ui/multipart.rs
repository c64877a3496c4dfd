//! The one multipart/form-data reader the UI needs (the settings page's picture upload):
//! the whole body is in memory already (capped by the caller), and only the parts' names and
//! bytes matter. Anything malformed is None.

/// The boundary of a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 70).then_some(v)
    })
}

/// One part: the `name` of its Content-Disposition, and its bytes.
#[derive(Debug, PartialEq)]
pub struct Part<'a> {
    pub name: String,
    pub data: &'a [u8],
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parts of `body`, in order.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let first = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = body.strip_prefix(first.as_bytes())?;
    let mut out = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(out);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let after = &rest[head_end + 4..];
        let end = find(after, delimiter.as_bytes())?;
        out.push(Part { name: part_name(head)?, data: &after[..end] });
        rest = &after[end + delimiter.len()..];
    }
}

/// `name="…"` of the part's Content-Disposition header.
fn part_name(head: &str) -> Option<String> {
    let line = head
        .split("\r\n")
        .find(|l| l.split_once(':').is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition")))?;
    line.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_a_browser_sends() {
        let ct = "multipart/form-data; boundary=----WebKitFormBoundaryX1";
        let b = boundary(ct).unwrap();
        assert_eq!(b, "----WebKitFormBoundaryX1");
        let body = b"------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n\
------WebKitFormBoundaryX1\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x00\xff\r\n\
------WebKitFormBoundaryX1--\r\n";
        let p = parts(body, b).unwrap();
        assert_eq!(p[0], Part { name: "_csrf".into(), data: b"tok" });
        assert_eq!(p[1], Part { name: "avatar".into(), data: b"\x89PNG\r\n\x00\xff" });
        assert_eq!(p.len(), 2);
        assert!(parts(b"garbage", b).is_none());
        assert!(parts(b"------WebKitFormBoundaryX1\r\nno end", b).is_none());
        assert!(boundary("application/x-www-form-urlencoded").is_none());
    }
}
