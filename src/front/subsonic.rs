//! The Subsonic response envelope, in XML and JSON (and JSONP), from one tree.
//!
//! A [`Node`] is an element: attributes, then lists of child elements. In JSON an attribute
//! becomes a key, a list becomes an array (always an array, even with one member, as the
//! OpenSubsonic spec requires), and text becomes `"value"`.

use std::borrow::Cow;
use std::fmt::Write;

use crate::proto::error::code;
use crate::proto::library::{AlbumRec, ArtistRec, SongRec};

pub const API_VERSION: &str = "1.16.1";
pub const SERVER_TYPE: &str = "redoubt";
pub const XMLNS: &str = "http://subsonic.org/restapi";

/// A value borrowed from the answer being rendered where possible: rendering a few hundred
/// songs then allocates next to nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}
impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}
impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value<'_> {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Node<'a> {
    pub name: &'static str,
    pub attrs: Vec<(&'static str, Value<'a>)>,
    /// Repeated child elements; a JSON array.
    pub lists: Vec<(&'static str, Vec<Node<'a>>)>,
    /// Repeated simple elements (`<versions>1</versions>`); a JSON array of values.
    pub prims: Vec<(&'static str, Vec<Value<'a>>)>,
    /// Single child elements; a JSON object each (`replayGain`).
    pub objects: Vec<Node<'a>>,
    pub text: Option<String>,
    /// In JSON this element is just the array of this list (OpenSubsonic's
    /// `"openSubsonicExtensions": [...]`, where XML wraps the items in an element).
    pub json_as_list: Option<&'static str>,
    /// A library record written straight from the broker's answer (see `render`); this
    /// node's own attributes follow the record's, and its lists follow the record's children.
    pub record: Option<Record<'a>>,
}

/// Songs, albums and artists come by the hundred: they are written from the records
/// themselves, without an attribute list per element, by the [`RecordWriter`] the caller of
/// [`render`] passes (the envelope knows no record's fields).
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    Song(&'a SongRec),
    /// The album, and whether as `AlbumID3` (else a directory `Child`).
    Album(&'a AlbumRec, bool),
    /// The artist, and whether as `ArtistID3`.
    Artist(&'a ArtistRec, bool),
}

/// Writes a record node: [`Out::start`], the record's fields, the node's own attributes and
/// lists ([`Out::node_attrs`], [`Out::node_lists`]), [`Out::end`].
pub type RecordWriter = fn(&mut Out, &Node, Record);

impl<'a> Node<'a> {
    pub fn new(name: &'static str) -> Node<'a> {
        Node { name, ..Default::default() }
    }
    /// A song, album or artist element.
    pub fn record(name: &'static str, record: Record<'a>) -> Node<'a> {
        Node { name, record: Some(record), ..Default::default() }
    }
    pub fn attr(mut self, k: &'static str, v: impl Into<Value<'a>>) -> Node<'a> {
        self.attrs.push((k, v.into()));
        self
    }
    pub fn list(mut self, k: &'static str, items: Vec<Node<'a>>) -> Node<'a> {
        self.lists.push((k, items));
        self
    }
    pub fn prim(mut self, k: &'static str, items: Vec<Value<'a>>) -> Node<'a> {
        self.prims.push((k, items));
        self
    }
    pub fn object(mut self, child: Node<'a>) -> Node<'a> {
        self.objects.push(child);
        self
    }
    /// Adds the attribute only when there is a value.
    pub fn opt(self, k: &'static str, v: Option<impl Into<Value<'a>>>) -> Node<'a> {
        match v {
            Some(v) => self.attr(k, v),
            None => self,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Xml,
    Json,
    Jsonp(String),
}

/// `f` and `callback` → a format. An invalid JSONP callback is an error, answered in JSON.
pub fn format(f: Option<&str>, callback: Option<&str>) -> Result<Format, (Format, i64, String)> {
    match f.unwrap_or("xml") {
        "xml" => Ok(Format::Xml),
        "json" => Ok(Format::Json),
        "jsonp" => match callback {
            Some(cb) if valid_callback(cb) => Ok(Format::Jsonp(cb.to_string())),
            Some(_) => Err((Format::Json, code::GENERIC, "invalid JSONP callback".into())),
            None => Err((Format::Json, code::MISSING_PARAMETER, "required parameter is missing: callback".into())),
        },
        // Unknown formats get XML, as Subsonic servers do.
        _ => Ok(Format::Xml),
    }
}

/// A JavaScript identifier path like `cb`, `jQuery123_456` or `ns.fn`; nothing else.
pub fn valid_callback(cb: &str) -> bool {
    !cb.is_empty()
        && cb.len() <= 128
        && cb.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

fn xml_escape(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    // The common case, nothing to escape, in one pass that vectorises (see json_string).
    let special = |b: u8| (b < 0x20) | (b == b'&') | (b == b'<') | (b == b'>') | (b == b'"') | (b == b'\'');
    if !bytes.iter().fold(false, |found, &b| found | special(b)) {
        out.push_str(s);
        return;
    }
    let mut clean = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !special(b) {
            continue;
        }
        out.push_str(&s[clean..i]);
        out.push_str(match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\n' => "&#10;",
            b'\r' => "&#13;",
            b'\t' => "&#9;",
            // Characters XML 1.0 cannot carry at all are dropped.
            _ => "",
        });
        clean = i + 1;
    }
    out.push_str(&s[clean..]);
}

fn xml_value(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Str(s) => xml_escape(s, out),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

fn xml_attr(k: &str, v: &Value<'_>, out: &mut String) {
    out.push(' ');
    out.push_str(k);
    out.push_str("=\"");
    xml_value(v, out);
    out.push('"');
}

fn xml_node(n: &Node, out: &mut String, records: RecordWriter) {
    if let Some(r) = n.record {
        let mut o = Out { buf: out, json: false, open: false, first: false, records };
        return records(&mut o, n, r);
    }
    out.push('<');
    out.push_str(n.name);
    for (k, v) in &n.attrs {
        xml_attr(k, v, out);
    }
    if n.lists.iter().all(|(_, l)| l.is_empty())
        && n.prims.iter().all(|(_, l)| l.is_empty())
        && n.objects.is_empty()
        && n.text.is_none()
    {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(t) = &n.text {
        xml_escape(t, out);
    }
    // Single child objects first: schemas put container contents (songs) after them.
    for o in &n.objects {
        xml_node(o, out, records);
    }
    for (_, items) in &n.lists {
        for item in items {
            xml_node(item, out, records);
        }
    }
    for (k, values) in &n.prims {
        for v in values {
            out.push('<');
            out.push_str(k);
            out.push('>');
            xml_value(v, out);
            out.push_str("</");
            out.push_str(k);
            out.push('>');
        }
    }
    out.push_str("</");
    out.push_str(n.name);
    out.push('>');
}

/// JSON is written straight into the output (no intermediate tree): answers with hundreds of
/// songs are common, and this is the front's hot path.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    // The common case, nothing to escape, in one pass without an early exit (so that it
    // vectorises; `any` does not).
    if !bytes.iter().fold(false, |found, &b| found | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut clean = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        // Runs without anything to escape are copied whole (the common case: all of it).
        out.push_str(&s[clean..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        clean = i + 1;
    }
    out.push_str(&s[clean..]);
    out.push('"');
}

fn json_value(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Str(s) => json_string(s, out),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Value::Float(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// Keys are this server's own element and attribute names: nothing to escape.
fn json_key(k: &str, first: &mut bool, out: &mut String) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push('"');
    out.push_str(k);
    // Single characters are stored directly; a two-byte push_str is a memcpy call.
    out.push('"');
    out.push(':');
}

fn json_node(n: &Node, out: &mut String, records: RecordWriter) {
    if let Some(r) = n.record {
        let mut o = Out { buf: out, json: true, open: false, first: false, records };
        return records(&mut o, n, r);
    }
    if let Some(list) = n.json_as_list {
        out.push('[');
        if let Some((_, items)) = n.lists.iter().find(|(k, _)| *k == list) {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_node(item, out, records);
            }
        }
        out.push(']');
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in &n.attrs {
        json_key(k, &mut first, out);
        json_value(v, out);
    }
    for (k, items) in &n.lists {
        json_key(k, &mut first, out);
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_node(item, out, records);
        }
        out.push(']');
    }
    for (k, values) in &n.prims {
        json_key(k, &mut first, out);
        out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_value(v, out);
        }
        out.push(']');
    }
    for o in &n.objects {
        json_key(o.name, &mut first, out);
        json_node(o, out, records);
    }
    if let Some(t) = &n.text {
        json_key("value", &mut first, out);
        json_string(t, out);
    }
    out.push('}');
}

/// Writes one element at a time straight into the output, in XML or JSON: `start`, its
/// attributes, its children (lists, single objects), `end`. Used for the library records.
pub struct Out<'b> {
    buf: &'b mut String,
    json: bool,
    /// XML: the current start tag is not closed yet (attributes may still follow).
    open: bool,
    /// JSON: the current object has no member yet.
    first: bool,
    /// For records among a node's children.
    records: RecordWriter,
}

impl Out<'_> {
    pub fn json(&self) -> bool {
        self.json
    }

    pub fn start(&mut self, name: &str) {
        if self.json {
            self.buf.push('{');
            self.first = true;
        } else {
            self.close_tag();
            self.buf.push('<');
            self.buf.push_str(name);
            self.open = true;
        }
    }

    pub fn end(&mut self, name: &str) {
        if self.json {
            self.buf.push('}');
            // The parent wrote this element's key: it has a member now.
            self.first = false;
        } else if self.open {
            self.buf.push_str("/>");
            self.open = false;
        } else {
            self.buf.push_str("</");
            self.buf.push_str(name);
            self.buf.push('>');
        }
    }

    fn close_tag(&mut self) {
        if self.open {
            self.buf.push('>');
            self.open = false;
        }
    }

    fn key(&mut self, k: &str) {
        if self.json {
            json_key(k, &mut self.first, self.buf);
        } else {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push('=');
            self.buf.push('"');
        }
    }

    fn end_value(&mut self) {
        if !self.json {
            self.buf.push('"');
        }
    }

    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        if self.json {
            json_string(v, self.buf);
        } else {
            xml_escape(v, self.buf);
        }
        self.end_value();
    }

    pub fn int(&mut self, k: &str, v: i64) {
        self.key(k);
        self.buf.push_str(itoa::Buffer::new().format(v));
        self.end_value();
    }

    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self.end_value();
    }

    /// Unix seconds as an ISO 8601 time.
    pub fn time(&mut self, k: &str, secs: i64) {
        self.key(k);
        if self.json {
            self.buf.push('"');
        }
        crate::dates::iso8601_into(secs.max(0) as u64, self.buf);
        self.buf.push('"');
    }

    pub fn value(&mut self, k: &str, v: &Value<'_>) {
        self.key(k);
        if self.json {
            json_value(v, self.buf);
        } else {
            xml_value(v, self.buf);
        }
        self.end_value();
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    pub fn opt_int(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.int(k, v);
        }
    }

    /// Repeated child elements, each written by `item` (a JSON array, even when empty).
    pub fn list<T>(&mut self, k: &str, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        if self.json {
            json_key(k, &mut self.first, self.buf);
            self.buf.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                item(self, x);
            }
            self.buf.push(']');
            self.first = false;
        } else {
            for x in items {
                item(self, x);
            }
        }
    }

    /// Repeated text elements (`<moods>calm</moods>`); a JSON array of strings, even when empty.
    pub fn texts(&mut self, k: &str, items: &[String]) {
        if self.json {
            json_key(k, &mut self.first, self.buf);
            self.buf.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                json_string(x, self.buf);
            }
            self.buf.push(']');
            self.first = false;
        } else {
            for x in items {
                self.close_tag();
                self.buf.push('<');
                self.buf.push_str(k);
                self.buf.push('>');
                xml_escape(x, self.buf);
                self.buf.push_str("</");
                self.buf.push_str(k);
                self.buf.push('>');
            }
        }
    }

    /// One child element written by `write` (which starts and ends it); a JSON object.
    pub fn object(&mut self, name: &str, write: impl FnOnce(&mut Self)) {
        if self.json {
            json_key(name, &mut self.first, self.buf);
        }
        write(self);
    }

    /// A node's attributes and lists inside the element being written.
    pub fn node_attrs(&mut self, n: &Node) {
        for (k, v) in &n.attrs {
            self.value(k, v);
        }
    }

    pub fn node_lists(&mut self, n: &Node) {
        debug_assert!(n.prims.is_empty() && n.objects.is_empty() && n.text.is_none());
        for (k, items) in &n.lists {
            if self.json {
                json_key(k, &mut self.first, self.buf);
                self.buf.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(',');
                    }
                    json_node(item, self.buf, self.records);
                }
                self.buf.push(']');
            } else {
                for item in items {
                    self.close_tag();
                    xml_node(item, self.buf, self.records);
                }
            }
        }
    }
}

/// About how many bytes a node renders to, so that the output is allocated once instead of
/// doubled (and copied) a dozen times for a long list.
fn size_hint(n: &Node) -> usize {
    let own = match n.record {
        Some(Record::Song(_)) => 1100,
        Some(Record::Album(..)) => 600,
        Some(Record::Artist(..)) => 200,
        None => 64,
    };
    own + n.lists.iter().flat_map(|(_, l)| l).map(size_hint).sum::<usize>()
}

/// Renders a complete answer. `error` is (code, message) for `status="failed"`; `records`
/// writes the library records in `body`.
pub fn render(
    format: &Format,
    server_version: &str,
    body: Option<&Node>,
    error: Option<(i64, &str)>,
    records: RecordWriter,
) -> (&'static str, String) {
    let status = if error.is_some() { "failed" } else { "ok" };
    let error_node = error.map(|(c, m)| Node::new("error").attr("code", c).attr("message", m));
    let child = error_node.as_ref().or(body);
    match format {
        Format::Xml => {
            let mut out = String::with_capacity(child.map_or(0, size_hint) + 512);
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<subsonic-response");
            for (k, v) in [
                ("xmlns", Value::from(XMLNS)),
                ("status", status.into()),
                ("version", API_VERSION.into()),
                ("type", SERVER_TYPE.into()),
                ("serverVersion", server_version.into()),
                ("openSubsonic", true.into()),
            ] {
                xml_attr(k, &v, &mut out);
            }
            match child {
                Some(c) => {
                    out.push('>');
                    xml_node(c, &mut out, records);
                    out.push_str("</subsonic-response>");
                }
                None => out.push_str("/>"),
            }
            ("text/xml; charset=utf-8", out)
        }
        Format::Json | Format::Jsonp(_) => {
            let mut json = String::with_capacity(child.map_or(0, size_hint) + 256);
            if let Format::Jsonp(cb) = format {
                json.push_str(cb);
                json.push('(');
            }
            json.push_str("{\"subsonic-response\":{\"status\":");
            json_string(status, &mut json);
            json.push_str(",\"version\":");
            json_string(API_VERSION, &mut json);
            json.push_str(",\"type\":");
            json_string(SERVER_TYPE, &mut json);
            json.push_str(",\"serverVersion\":");
            json_string(server_version, &mut json);
            json.push_str(",\"openSubsonic\":true");
            if let Some(c) = child {
                json.push(',');
                json_string(c.name, &mut json);
                json.push(':');
                json_node(c, &mut json, records);
            }
            json.push_str("}}");
            match format {
                Format::Jsonp(_) => {
                    json.push_str(");");
                    ("text/javascript; charset=utf-8", json)
                }
                _ => ("application/json", json),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_records(_: &mut Out, _: &Node, _: Record) {
        unreachable!("no records here")
    }

    #[test]
    fn callbacks() {
        for ok in ["cb", "jQuery1_2", "a.b.c", "$x"] {
            assert!(valid_callback(ok), "{ok}");
        }
        for bad in ["", "alert(1)", "a;b", "1x", "a..b", "</script>", "a b"] {
            assert!(!valid_callback(bad), "{bad}");
        }
    }

    #[test]
    fn json_is_valid_and_escaped() {
        let n = Node::new("x")
            .attr("s", "quote\" back\\ nl\n tab\t bell\u{7} é")
            .attr("f", 1.5f64)
            .attr("nan", f64::NAN)
            .list("l", vec![Node::new("l").attr("i", 1i64)])
            .prim("p", vec![Value::Int(2)])
            .object(Node::new("o").attr("b", true));
        let (_, json) = render(&Format::Json, "0", Some(&n), None, no_records);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let x = &v["subsonic-response"]["x"];
        assert_eq!(x["s"], "quote\" back\\ nl\n tab\t bell\u{7} é");
        assert_eq!(x["f"], 1.5);
        assert!(x["nan"].is_null());
        assert_eq!(x["l"][0]["i"], 1);
        assert_eq!(x["p"][0], 2);
        assert_eq!(x["o"]["b"], true);
        assert_eq!(v["subsonic-response"]["openSubsonic"], true);
    }

    #[test]
    fn xml_escapes_attributes_and_drops_control_chars() {
        let n = Node::new("x").attr("a", "<\"&'>\u{1}");
        let (_, xml) = render(&Format::Xml, "0", Some(&n), None, no_records);
        assert!(xml.contains(r#"<x a="&lt;&quot;&amp;&apos;&gt;"/>"#), "{xml}");
    }
}
