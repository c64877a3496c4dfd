//! Request parameters, and the checks every method's parser uses on them.

pub use crate::proto::error::missing;
use crate::proto::error::{code, wrong_credentials};
use crate::proto::ApiError;

/// Request parameters from the query string and, for form POSTs, the body, in order.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    pub fn count(&self, k: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == k).count()
    }
    /// A parameter that must be there and not empty (else Subsonic error 10).
    pub fn required(&self, k: &str) -> Result<&str, ApiError> {
        self.get(k).filter(|v| !v.is_empty()).ok_or_else(|| missing(k))
    }

    /// A number, if given; anything unparsable is error 0.
    pub fn int<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| invalid(k, v)),
        }
    }

    pub fn int_or<T: std::str::FromStr>(&self, k: &str, default: T) -> Result<T, ApiError> {
        Ok(self.int(k)?.unwrap_or(default))
    }

    /// `true`/`false` in any case, if given.
    pub fn boolean(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(invalid(k, v)),
        }
    }

    pub(super) fn extend_form(&mut self, body: &[u8]) {
        self.0.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
}

/// Error 0: a value that does not parse, or is out of range.
pub fn invalid(name: &str, v: &str) -> ApiError {
    ApiError::new(code::GENERIC, format!("Invalid value for {name}: {v:?}"))
}

/// `enc:` followed by hex (either case) is the password hex-encoded.
pub fn decode_password(p: &str) -> Result<String, ApiError> {
    match p.strip_prefix("enc:") {
        None => Ok(p.to_string()),
        Some(h) => hex::decode(h).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(wrong_credentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_passwords_in_either_case() {
        assert_eq!(decode_password("enc:736563726574").unwrap(), "secret");
        assert_eq!(decode_password("enc:7365637265744A").unwrap(), "secretJ");
        assert_eq!(decode_password("plain").unwrap(), "plain");
        assert!(decode_password("enc:zz").is_err());
    }
}
