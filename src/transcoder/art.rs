//! Artwork: decode an image file or a picture embedded in an audio file, scale it, encode it.
//! Decoding images is untrusted work, so it happens here, in the sandbox, with bounds.
#![forbid(unsafe_code)]

use std::path::Path;

use crate::proto::media::JobError;

/// The image at `path` (or the picture embedded in the audio file at `path`), scaled to fit
/// `size` pixels square when given: (content type, bytes).
pub fn render(_path: &Path, _embedded: bool, _size: Option<u32>) -> Result<(String, Vec<u8>), JobError> {
    Err(JobError::Failed("artwork is not implemented yet".into()))
}
