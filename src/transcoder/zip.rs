//! A streaming zip writer: entries stored (audio does not compress), each followed by a data
//! descriptor with the CRC-32 computed while the bytes pass, so nothing is seeked, buffered
//! or written to a temporary file; memory is one copy buffer and one central-directory line
//! per entry. Zip64 records are written where a size or offset passes 4 GiB, or past 65,535
//! entries (APPNOTE.TXT 6.3.10, sections 4.3.7-4.3.16, 4.5.3).

use std::io::{self, Read, Write};

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
const V20: u16 = 20;
const V45: u16 = 45;
/// "Made by" Unix (3), spec 4.5: the external attributes are Unix modes.
const MADE_BY: u16 = (3 << 8) | V45;
const MAX32: u64 = 0xFFFF_FFFF;
const COPY_BUF: usize = 64 * 1024;

struct Central {
    name: Vec<u8>,
    crc: u32,
    size: u64,
    offset: u64,
    zip64: bool,
    time: u16,
    date: u16,
}

pub struct ZipWriter<W: Write> {
    out: W,
    written: u64,
    entries: Vec<Central>,
    /// Tests: Zip64 records for every entry, whatever its size.
    force_zip64: bool,
}

/// MS-DOS time and date of a Unix time (UTC; 1980 at the earliest).
fn dos_time(unix: i64) -> (u16, u16) {
    let unix = unix.max(315_532_800); // 1980-01-01
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = crate::dates::civil_from_days(days);
    let (month, day) = (i64::from(month), i64::from(day));
    let year = year.clamp(1980, 2107);
    let time = (((secs / 3600) << 11) | ((secs % 3600 / 60) << 5) | ((secs % 60) / 2)) as u16;
    let date = (((year - 1980) << 9) | (month << 5) | day) as u16;
    (time, date)
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> ZipWriter<W> {
        ZipWriter { out, written: 0, entries: Vec::new(), force_zip64: false }
    }

    #[cfg(test)]
    fn forcing_zip64(mut self) -> Self {
        self.force_zip64 = true;
        self
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// One entry: `size` is what the file holds now (it decides Zip64 before the data); at
    /// most that many bytes are copied, and the descriptor records what was.
    pub fn add(&mut self, name: &str, mtime: i64, size: u64, data: impl Read) -> io::Result<()> {
        let offset = self.written;
        let zip64 = self.force_zip64 || size >= MAX32 || offset >= MAX32;
        let (time, date) = dos_time(mtime);
        let name = name.as_bytes().to_vec();
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend(LOCAL.to_le_bytes());
        h.extend((if zip64 { V45 } else { V20 }).to_le_bytes());
        h.extend(FLAGS.to_le_bytes());
        h.extend(0u16.to_le_bytes()); // stored
        h.extend(time.to_le_bytes());
        h.extend(date.to_le_bytes());
        h.extend(0u32.to_le_bytes()); // CRC: in the descriptor
        let unknown: u32 = if zip64 { 0xFFFF_FFFF } else { 0 };
        h.extend(unknown.to_le_bytes());
        h.extend(unknown.to_le_bytes());
        h.extend((name.len() as u16).to_le_bytes());
        h.extend((if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend(&name);
        if zip64 {
            // Sizes zero here, in the descriptor (8 bytes each) after the data (4.3.9.2).
            h.extend(1u16.to_le_bytes());
            h.extend(16u16.to_le_bytes());
            h.extend(0u64.to_le_bytes());
            h.extend(0u64.to_le_bytes());
        }
        self.put(&h)?;
        let mut crc = crc32fast::Hasher::new();
        let mut copied = 0u64;
        let mut buf = vec![0u8; COPY_BUF];
        let mut data = data.take(size);
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            crc.update(&buf[..n]);
            self.out.write_all(&buf[..n])?;
            copied += n as u64;
        }
        self.written += copied;
        let crc = crc.finalize();
        let mut d = Vec::with_capacity(24);
        d.extend(DESCRIPTOR.to_le_bytes());
        d.extend(crc.to_le_bytes());
        if zip64 {
            d.extend(copied.to_le_bytes());
            d.extend(copied.to_le_bytes());
        } else {
            d.extend((copied as u32).to_le_bytes());
            d.extend((copied as u32).to_le_bytes());
        }
        self.put(&d)?;
        self.entries.push(Central { name, crc, size: copied, offset, zip64, time, date });
        Ok(())
    }

    /// The central directory and its end records; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let start = self.written;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let big_size = e.zip64;
            let big_offset = e.zip64 || e.offset >= MAX32;
            let mut extra = Vec::new();
            if big_size || big_offset {
                let mut body = Vec::new();
                if big_size {
                    body.extend(e.size.to_le_bytes());
                    body.extend(e.size.to_le_bytes());
                }
                if big_offset {
                    body.extend(e.offset.to_le_bytes());
                }
                extra.extend(1u16.to_le_bytes());
                extra.extend((body.len() as u16).to_le_bytes());
                extra.extend(body);
            }
            let mut c = Vec::with_capacity(46 + e.name.len() + extra.len());
            c.extend(CENTRAL.to_le_bytes());
            c.extend(MADE_BY.to_le_bytes());
            c.extend((if e.zip64 || big_offset { V45 } else { V20 }).to_le_bytes());
            c.extend(FLAGS.to_le_bytes());
            c.extend(0u16.to_le_bytes());
            c.extend(e.time.to_le_bytes());
            c.extend(e.date.to_le_bytes());
            c.extend(e.crc.to_le_bytes());
            let size32 = if big_size { MAX32 } else { e.size } as u32;
            c.extend(size32.to_le_bytes());
            c.extend(size32.to_le_bytes());
            c.extend((e.name.len() as u16).to_le_bytes());
            c.extend((extra.len() as u16).to_le_bytes());
            c.extend(0u16.to_le_bytes()); // comment
            c.extend(0u16.to_le_bytes()); // disk
            c.extend(0u16.to_le_bytes()); // internal attributes
            c.extend((0o100644u32 << 16).to_le_bytes());
            c.extend((if big_offset { MAX32 } else { e.offset } as u32).to_le_bytes());
            c.extend(&e.name);
            c.extend(extra);
            self.put(&c)?;
        }
        let cd_size = self.written - start;
        let count = entries.len() as u64;
        let zip64 = self.force_zip64 || count >= 0xFFFF || start >= MAX32 || cd_size >= MAX32;
        if zip64 {
            let end64 = self.written;
            let mut r = Vec::with_capacity(56 + 20);
            r.extend(END64.to_le_bytes());
            r.extend(44u64.to_le_bytes());
            r.extend(MADE_BY.to_le_bytes());
            r.extend(V45.to_le_bytes());
            r.extend(0u32.to_le_bytes());
            r.extend(0u32.to_le_bytes());
            r.extend(count.to_le_bytes());
            r.extend(count.to_le_bytes());
            r.extend(cd_size.to_le_bytes());
            r.extend(start.to_le_bytes());
            r.extend(LOCATOR64.to_le_bytes());
            r.extend(0u32.to_le_bytes());
            r.extend(end64.to_le_bytes());
            r.extend(1u32.to_le_bytes());
            self.put(&r)?;
        }
        let mut r = Vec::with_capacity(22);
        r.extend(END.to_le_bytes());
        r.extend(0u16.to_le_bytes());
        r.extend(0u16.to_le_bytes());
        let count16 = if zip64 { 0xFFFF } else { count as u16 };
        r.extend(count16.to_le_bytes());
        r.extend(count16.to_le_bytes());
        r.extend((if zip64 { MAX32 } else { cd_size } as u32).to_le_bytes());
        r.extend((if zip64 { MAX32 } else { start } as u32).to_le_bytes());
        r.extend(0u16.to_le_bytes());
        self.put(&r)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(entries: &[(&str, Vec<u8>)], force: bool) -> Vec<u8> {
        let mut z = ZipWriter::new(Vec::new());
        if force {
            z = z.forcing_zip64();
        }
        for (name, data) in entries {
            z.add(name, 1_700_000_000, data.len() as u64, &data[..]).unwrap();
        }
        z.finish().unwrap()
    }

    /// Python's zipfile reads it back: names in order, bytes and CRCs right.
    fn python_check(zip: &[u8], want: &[(&str, Vec<u8>)]) {
        let dir = std::env::temp_dir().join(format!("redoubt-test-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("t{}.zip", want.len()));
        std::fs::write(&path, zip).unwrap();
        let script = "import sys, zipfile, hashlib\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            for i in z.infolist(): print(i.filename, i.file_size, hashlib.sha256(z.read(i)).hexdigest())\n";
        let out = std::process::Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), want.len());
        for (line, (name, data)) in got.iter().zip(want) {
            use sha2::Digest;
            let h = hex::encode(sha2::Sha256::digest(data));
            assert_eq!(*line, format!("{name} {} {h}", data.len()));
        }
        if want.len() < 100 {
            let t = std::process::Command::new("unzip").arg("-tq").arg(&path).output();
            if let Ok(t) = t {
                assert!(t.status.success(), "unzip -t: {}", String::from_utf8_lossy(&t.stdout));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn sample() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("01 - Ünïcode.flac", (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect()),
            ("Disc 2/01 - empty.mp3", Vec::new()),
            ("02 - b.ogg", b"hello".to_vec()),
        ]
    }

    #[test]
    fn a_small_zip_reads_back_in_order() {
        python_check(&write(&sample(), false), &sample());
    }

    #[test]
    fn zip64_records_read_back() {
        python_check(&write(&sample(), true), &sample());
    }

    #[test]
    fn more_than_65535_entries_use_zip64_end_records() {
        let many: Vec<(String, Vec<u8>)> = (0..65_600).map(|i| (format!("{i}.txt"), vec![i as u8])).collect();
        let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let zip = write(&refs, false);
        assert!(zip.windows(4).any(|w| w == END64.to_le_bytes()), "a Zip64 end record");
        python_check(&zip, &refs);
    }

    #[test]
    fn dos_times() {
        // 2023-11-14 22:13:20 UTC.
        let (t, d) = dos_time(1_700_000_000);
        assert_eq!((d >> 9, (d >> 5) & 15, d & 31), (43, 11, 14));
        assert_eq!((t >> 11, (t >> 5) & 63, (t & 31) * 2), (22, 13, 20));
        assert_eq!(dos_time(0).1, 1 << 5 | 1, "before 1980: 1980-01-01");
    }
}
