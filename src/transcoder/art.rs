//! Artwork: decode an image file or a picture embedded in an audio file, scale it, encode it.
//! Decoding images is untrusted work, so it happens here, in the sandbox, with bounds: the
//! file is read up to [`MAX_FILE`] bytes, and the decoder refuses an image wider or taller
//! than [`MAX_SIDE`], of more than [`MAX_PIXELS`] pixels, or needing more than [`MAX_ALLOC`]
//! bytes, before it allocates the pixels. A decompression bomb is an error answer.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use lofty::config::{ParseOptions, ParsingMode};
use lofty::picture::PictureType;
use lofty::prelude::*;
use lofty::probe::Probe;

use crate::proto::media::JobError;

/// The largest image file read.
pub const MAX_FILE: u64 = 20 * 1024 * 1024;
/// The widest or tallest image decoded.
pub const MAX_SIDE: u32 = 12_000;
/// The most pixels decoded (a 6000×6000 scan is 36 M).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The most memory the decoder may allocate.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// The longest side of an answer: a bigger `size` (or none) gets at most this.
pub const MAX_OUT_SIDE: u32 = 2400;
/// The largest answer (it travels in one channel message, spilled to a memfd).
pub const MAX_REPLY: usize = 8 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;

fn failed(why: impl std::fmt::Display) -> JobError {
    JobError::Failed(why.to_string())
}

/// Images decoded at once: each may hold up to [`MAX_ALLOC`] bytes, so many concurrent
/// requests for big pictures must queue rather than add up.
const DECODERS: u32 = 2;

static BUSY: (Mutex<u32>, Condvar) = (Mutex::new(0), Condvar::new());

/// One of the [`DECODERS`] slots, given back on drop.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let (lock, freed) = &BUSY;
        let mut busy = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= DECODERS {
            busy = freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, freed) = &BUSY;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// The image at `path` (or the picture embedded in the audio file at `path`), scaled to fit
/// `size` pixels square when given: (content type, bytes).
pub fn render(path: &Path, embedded: bool, size: Option<u32>) -> Result<(String, Vec<u8>), JobError> {
    let _slot = Slot::take();
    let bytes = if embedded { embedded_picture(path)? } else { read_capped(path)? };
    convert(&bytes, size)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, JobError> {
    let file = std::fs::File::open(path).map_err(|e| JobError::NotFound(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(failed(format!("{} is larger than {MAX_FILE} bytes", path.display())));
    }
    Ok(bytes)
}

/// The front cover embedded in an audio file, else its first picture. lofty caps what it
/// allocates for a tag item itself.
fn embedded_picture(path: &Path) -> Result<Vec<u8>, JobError> {
    let file = std::fs::File::open(path).map_err(|e| JobError::NotFound(format!("{}: {e}", path.display())))?;
    let tagged = Probe::new(std::io::BufReader::new(file))
        .options(ParseOptions::new().parsing_mode(ParsingMode::BestAttempt).read_properties(false).read_cover_art(true))
        .guess_file_type()
        .map_err(failed)?
        .read()
        .map_err(failed)?;
    let pictures: Vec<_> = tagged.tags().iter().flat_map(|t| t.pictures()).collect();
    let best = pictures.iter().find(|p| p.pic_type() == PictureType::CoverFront).or(pictures.first());
    match best {
        Some(p) if p.data().len() as u64 <= MAX_FILE => Ok(p.data().to_vec()),
        Some(_) => Err(failed("the embedded picture is too large")),
        None => Err(JobError::NotFound(format!("{} has no embedded picture", path.display()))),
    }
}

fn content_type(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Png => Some("image/png"),
        ImageFormat::Gif => Some("image/gif"),
        ImageFormat::WebP => Some("image/webp"),
        _ => None,
    }
}

/// The largest avatar upload decoded (the front refuses a bigger body before the broker
/// sees it).
pub const MAX_AVATAR_UPLOAD: usize = 2 * 1024 * 1024;
/// An avatar's longest side once re-encoded.
pub const AVATAR_SIDE: u32 = 256;

/// The decoder limits every untrusted image is decoded within.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn check_pixels(w: u32, h: u32) -> Result<(), JobError> {
    if w == 0 || h == 0 || w as u64 * h as u64 > MAX_PIXELS {
        return Err(failed(format!("a {w}×{h} image is beyond the {MAX_PIXELS}-pixel limit")));
    }
    Ok(())
}

/// An uploaded avatar: decoded within the same bounds as artwork, scaled to fit
/// [`AVATAR_SIDE`] and always re-encoded, so what is stored and served is pixels this
/// process drew, never the uploaded bytes (nor their metadata).
pub fn avatar(bytes: &[u8]) -> Result<(String, Vec<u8>), JobError> {
    if bytes.len() > MAX_AVATAR_UPLOAD {
        return Err(failed(format!("the image is larger than {} MB", MAX_AVATAR_UPLOAD / (1024 * 1024))));
    }
    let _slot = Slot::take();
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(failed)?;
    if reader.format().is_none_or(|f| content_type(f).is_none()) {
        return Err(failed("not a JPEG, PNG, GIF or WebP image"));
    }
    let mut decoder = reader.into_decoder().map_err(failed)?;
    decoder.set_limits(limits()).map_err(failed)?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h)?;
    let img = DynamicImage::from_decoder(decoder).map_err(failed)?;
    let img = if w.max(h) > AVATAR_SIDE { img.resize(AVATAR_SIDE, AVATAR_SIDE, FilterType::Lanczos3) } else { img };
    encode(&img)
}

/// Decodes `bytes` within the bounds and scales the image to fit `size`×`size` (never up).
/// An image that needs no scaling and is already in a web format is answered as it is.
pub fn convert(bytes: &[u8], size: Option<u32>) -> Result<(String, Vec<u8>), JobError> {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(failed)?;
    let format = reader.format().ok_or_else(|| failed("not an image this server decodes"))?;
    let mut decoder = reader.into_decoder().map_err(failed)?;
    decoder.set_limits(limits()).map_err(failed)?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h)?;
    let fit = size.unwrap_or(MAX_OUT_SIDE).clamp(1, MAX_OUT_SIDE);
    if w.max(h) <= fit && bytes.len() <= MAX_REPLY {
        if let Some(ct) = content_type(format) {
            return Ok((ct.to_string(), bytes.to_vec()));
        }
    }
    let img = DynamicImage::from_decoder(decoder).map_err(failed)?;
    let img = if w.max(h) > fit { img.resize(fit, fit, FilterType::Lanczos3) } else { img };
    let out = encode(&img)?;
    if out.1.len() > MAX_REPLY {
        return Err(failed("the encoded image is too large"));
    }
    Ok(out)
}

/// JPEG, or PNG when the image has transparency.
fn encode(img: &DynamicImage) -> Result<(String, Vec<u8>), JobError> {
    let mut out = Vec::new();
    if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        rgba.write_with_encoder(PngEncoder::new(&mut out)).map_err(failed)?;
        Ok(("image/png".into(), out))
    } else {
        let rgb = img.to_rgb8();
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)).map_err(failed)?;
        Ok(("image/jpeg".into(), out))
    }
}

/// Test fixtures (used by the unit tests below and by the integration tests).
pub mod fixtures {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in data {
            crc ^= *b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }

    /// A well-formed PNG declaring `w`×`h` pixels whose data is one small zlib stream: what a
    /// decompression bomb looks like up to the point where a decoder would allocate the pixels.
    /// For tests of the decoding bounds (here and in tests/cover_art.rs).
    pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        // zlib: one stored block of 1024 zero bytes, then their Adler-32.
        let mut idat = vec![0x78, 0x01, 0x01, 0x00, 0x04, 0xff, 0xfb];
        idat.extend([0u8; 1024]);
        idat.extend(0x0400_0001u32.to_be_bytes());
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let img = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(w, h, image::Rgba([10, 20, 30, 128])))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30])))
        };
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    fn dims(bytes: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory(bytes).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn scales_to_fit_and_keeps_small_web_images_as_they_are() {
        let src = png(400, 200, false);
        let (ct, out) = convert(&src, Some(100)).unwrap();
        assert_eq!(ct, "image/jpeg");
        assert_eq!(dims(&out), (100, 50));
        let (ct, out) = convert(&src, None).unwrap();
        assert_eq!((ct.as_str(), out.as_slice()), ("image/png", src.as_slice()), "no size: the original");
        let (_, out) = convert(&src, Some(1000)).unwrap();
        assert_eq!(out, src, "never scaled up");
        let (ct, out) = convert(&png(300, 300, true), Some(30)).unwrap();
        assert_eq!((ct.as_str(), dims(&out)), ("image/png", (30, 30)), "transparency stays PNG");
    }

    #[test]
    fn bombs_and_garbage_are_errors() {
        for (w, h) in [(100_000, 100_000), (12_001, 10), (1, 50_000_000), (7000, 7000)] {
            let e = convert(&fixtures::png_bomb(w, h), Some(100)).unwrap_err();
            assert!(matches!(&e, JobError::Failed(why) if why.to_lowercase().contains("limit")), "{w}×{h}: {e}");
        }
        // The same file at a modest size decodes (the stream is short: the rest is missing).
        let e = convert(&fixtures::png_bomb(16, 16), Some(100));
        assert!(e.is_ok() || matches!(&e, Err(JobError::Failed(why)) if !why.contains("limit")), "{e:?}");
        assert!(convert(b"not an image", None).is_err());
        let mut cut = png(64, 64, false);
        cut.truncate(cut.len() / 2);
        assert!(convert(&cut, Some(10)).is_err());
    }
}
