//! The wire encoding, in one module so that replacing bincode is a one-file change.
//!
//! bincode is pinned to 1.3.3 (what Debian packages; RUSTSEC-2025-0141 marks it unmaintained,
//! see `deny.toml`). Every decode is bounded by [`MAX_MESSAGE`] and rejects trailing bytes.
#![forbid(unsafe_code)]

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

/// Largest encoded message either side may send or accept (inline or spilled, see
/// `channel`). A bigger one kills the channel.
pub const MAX_MESSAGE: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
#[error("codec: {0}")]
pub struct CodecError(String);

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_MESSAGE as u64).reject_trailing_bytes()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    options().serialize(value).map_err(|e| CodecError(e.to_string()))
}

/// `value` encoded after one `prefix` byte, in one allocation of the exact size: the frame
/// to send, without copying a separately encoded payload into it.
pub fn encode_after<T: Serialize>(prefix: u8, value: &T) -> Result<Vec<u8>, CodecError> {
    let size = options().serialized_size(value).map_err(|e| CodecError(e.to_string()))?;
    let mut out = Vec::with_capacity(size as usize + 1);
    out.push(prefix);
    options().serialize_into(&mut out, value).map_err(|e| CodecError(e.to_string()))?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(CodecError("frame over the size limit".into()));
    }
    options().deserialize(bytes).map_err(|e| CodecError(e.to_string()))
}

/// The value at the start of `bytes`, whatever follows it (a frame's id, read before its body).
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    options().allow_trailing_bytes().deserialize(bytes).map_err(|e| CodecError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_trailing_bytes_rejected() {
        let bytes = encode(&(7u64, String::from("x"))).unwrap();
        assert_eq!(decode::<(u64, String)>(&bytes).unwrap(), (7, "x".into()));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<(u64, String)>(&longer).is_err());
        assert_eq!(decode_prefix::<u64>(&bytes).unwrap(), 7);
        let framed = encode_after(9, &(7u64, String::from("x"))).unwrap();
        assert_eq!((framed[0], &framed[1..]), (9, &bytes[..]));
    }

    #[test]
    fn length_prefix_beyond_limit_is_refused_without_allocating() {
        // A Vec<u8> claiming 2^40 elements: must fail on the limit, not try to allocate.
        let mut bytes = vec![253u8];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}
