//! The entries of a zip archive, read from its central directory, and where an entry's data
//! lies in the archive (after its local header). Only what uprobes need: an ELF file stored
//! in an archive (Android runs libraries straight from an APK) is probed through the
//! archive's inode, at the entry's data offset plus the function's file offset, so the entry
//! must be stored as is (method 0), never compressed. Zip64 archives (over 4 GiB or 65535
//! entries) are refused.

use std::ops::Range;

/// One file of the archive, as its central directory describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// 0: stored; 8: deflated; others (bzip2, lzma, zstd) are rare.
    pub method: u16,
    pub encrypted: bool,
    pub compressed_size: u64,
    pub size: u64,
    local_header: u64,
}

impl Entry {
    pub fn stored(&self) -> bool {
        self.method == STORED && !self.encrypted && self.compressed_size == self.size
    }

    /// The method's name, for a diagnostic.
    pub fn method_name(&self) -> String {
        match self.method {
            STORED => "stored".into(),
            8 => "deflate".into(),
            9 => "deflate64".into(),
            12 => "bzip2".into(),
            14 => "lzma".into(),
            93 => "zstd".into(),
            other => format!("method {other}"),
        }
    }

    /// Where the entry's bytes are in the archive: after its local header, whose name and
    /// extra field may differ in length from the central directory's.
    pub fn data(&self, archive: &[u8]) -> Result<Range<usize>, String> {
        let at = usize::try_from(self.local_header).map_err(|_| "offset too large")?;
        let header = archive
            .get(at..at + LOCAL_HEADER)
            .ok_or_else(|| format!("the local header of `{}` is past the end", self.name))?;
        if u32_at(header, 0) != LOCAL_SIGNATURE {
            return Err(format!(
                "no local header where `{}` should start",
                self.name
            ));
        }
        let start = at + LOCAL_HEADER + u16_at(header, 26) as usize + u16_at(header, 28) as usize;
        let end = start + self.compressed_size as usize;
        if end > archive.len() {
            return Err(format!("the data of `{}` runs past the end", self.name));
        }
        Ok(start..end)
    }
}

const STORED: u16 = 0;
const END_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// Fixed parts of the end-of-central-directory record, a central directory header and a
/// local header.
const END_RECORD: usize = 22;
const CENTRAL_HEADER: usize = 46;
const LOCAL_HEADER: usize = 30;
/// A zip64 archive marks the fields that overflowed.
const ZIP64_U32: u32 = u32::MAX;
const ZIP64_U16: u16 = u16::MAX;

/// The archive's entries, in central directory order. Not a zip archive, or a damaged one,
/// is an error saying why.
pub fn entries(archive: &[u8]) -> Result<Vec<Entry>, String> {
    let end = end_record(archive).ok_or("not a zip archive (no end of central directory)")?;
    let record = &archive[end..];
    let count = u16_at(record, 10);
    let (size, offset) = (u32_at(record, 12), u32_at(record, 16));
    if count == ZIP64_U16 || size == ZIP64_U32 || offset == ZIP64_U32 {
        return Err("a zip64 archive, which is not read".into());
    }
    let mut at = offset as usize;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let header = archive
            .get(at..at + CENTRAL_HEADER)
            .filter(|h| u32_at(h, 0) == CENTRAL_SIGNATURE)
            .ok_or("the central directory is damaged")?;
        let name_len = u16_at(header, 28) as usize;
        let extra_len = u16_at(header, 30) as usize;
        let comment_len = u16_at(header, 32) as usize;
        let name = archive
            .get(at + CENTRAL_HEADER..at + CENTRAL_HEADER + name_len)
            .ok_or("the central directory is damaged")?;
        let (compressed_size, size, local_header) =
            (u32_at(header, 20), u32_at(header, 24), u32_at(header, 42));
        if [compressed_size, size, local_header].contains(&ZIP64_U32) {
            return Err("a zip64 archive, which is not read".into());
        }
        out.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: u16_at(header, 10),
            encrypted: u16_at(header, 8) & 1 != 0,
            compressed_size: compressed_size.into(),
            size: size.into(),
            local_header: local_header.into(),
        });
        at += CENTRAL_HEADER + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// The end-of-central-directory record: the last one in the file, which a comment of up to
/// 64 KiB may follow.
fn end_record(archive: &[u8]) -> Option<usize> {
    let last = archive.len().checked_sub(END_RECORD)?;
    let first = last.saturating_sub(u16::MAX as usize);
    (first..=last).rev().find(|&at| {
        u32_at(&archive[at..], 0) == END_SIGNATURE
            && at + END_RECORD + u16_at(&archive[at..], 20) as usize == archive.len()
    })
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An archive of `(name, method, data)` entries, the data written as given (a test
    /// that wants a compressed entry only needs its method to say so). CRCs are left 0:
    /// nothing here reads them.
    pub(crate) fn archive(files: &[(&str, u16, &[u8])], comment: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for &(name, method, data) in files {
            let local = out.len() as u32;
            // A local extra field the central directory does not have, as zip tools write.
            let extra = [0xfe, 0xca, 0, 0];
            out.extend(LOCAL_SIGNATURE.to_le_bytes());
            out.extend([20, 0, 0, 0]);
            out.extend(method.to_le_bytes());
            out.extend([0; 8]);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend((extra.len() as u16).to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(extra);
            out.extend(data);
            central.extend(CENTRAL_SIGNATURE.to_le_bytes());
            central.extend([20, 3, 20, 0, 0, 0]);
            central.extend(method.to_le_bytes());
            central.extend([0; 8]);
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0; 12]);
            central.extend(local.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let offset = out.len() as u32;
        out.extend(&central);
        out.extend(END_SIGNATURE.to_le_bytes());
        out.extend([0; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(offset.to_le_bytes());
        out.extend((comment.len() as u16).to_le_bytes());
        out.extend(comment);
        out
    }

    #[test]
    fn finds_each_entry_and_its_data() {
        let bytes = archive(
            &[
                ("bin/true", 0, b"\x7fELF-one"),
                ("lib/x.so", 8, b"squeezed"),
            ],
            b"a comment with PK\x05\x06 in it",
        );
        let found = entries(&bytes).unwrap();
        let names: Vec<&str> = found.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bin/true", "lib/x.so"]);
        assert!(found[0].stored());
        assert!(!found[1].stored());
        assert_eq!(found[1].method_name(), "deflate");
        assert_eq!(&bytes[found[0].data(&bytes).unwrap()], b"\x7fELF-one");
        assert_eq!(&bytes[found[1].data(&bytes).unwrap()], b"squeezed");
    }

    #[test]
    fn what_is_not_a_readable_archive_says_why() {
        assert!(entries(b"\x7fELF and more bytes than an end record").is_err());
        assert!(entries(b"").is_err());
        let bytes = archive(&[("a", 0, b"data")], b"");
        // Cut into the central directory.
        let mut damaged = bytes.clone();
        let central = bytes.len() - END_RECORD - CENTRAL_HEADER - 1;
        damaged[central] ^= 0xff;
        assert_eq!(
            entries(&damaged).unwrap_err(),
            "the central directory is damaged"
        );
        let mut zip64 = bytes;
        let end = zip64.len() - END_RECORD;
        zip64[end + 16..end + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(entries(&zip64).unwrap_err().contains("zip64"));
    }
}
