//! The USDT probe sites of an ELF file, from its `.note.stapsdt` notes (owner `stapsdt`, type
//! 3). Each note's descriptor holds three addresses, the probe's `nop` (pc), the link-time
//! address of the `.stapsdt.base` section (base) and the probe's semaphore (0 for none), then
//! three NUL-terminated strings: provider, name and the argument specs.
//!
//! The addresses are link-time virtual addresses. A prelinked file moved `.stapsdt.base`
//! after the notes were written, so pc and semaphore move by the same amount; then each is
//! turned into the file offset the kernel's uprobe interface takes, through the loadable
//! segment that contains it.

use object::elf;
use object::read::elf::{ElfFile64, ProgramHeader as _, SectionHeader as _};
use object::Endianness;

use tracebound_compiler::machine::facts::{FactError, UsdtSite};

const NOTE_OWNER: &[u8] = b"stapsdt";
const NOTE_TYPE: u32 = 3;

/// One note, decoded, addresses as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StapsdtNote {
    pub pc: u64,
    pub base: u64,
    pub semaphore: u64,
    pub provider: String,
    pub name: String,
    pub args: String,
}

/// The USDT sites of the ELF file at `path`, in note order.
pub fn read_sites(path: &str) -> Result<Vec<UsdtSite>, FactError> {
    let bytes = super::mapped::MappedFile::open(std::path::Path::new(path)).map_err(|e| match e
        .kind()
    {
        std::io::ErrorKind::NotFound => FactError::binary_not_found(path),
        _ => FactError::Unavailable {
            reason: format!("cannot read {path}: {e}"),
        },
    })?;
    sites(path, &bytes).map_err(|reason| FactError::Malformed {
        what: path.to_string(),
        reason,
    })
}

/// Decodes a note's descriptor (64-bit addresses, in the file's byte order).
pub fn decode_desc(desc: &[u8], little_endian: bool) -> Result<StapsdtNote, String> {
    let word = |at: usize| -> Result<u64, String> {
        let bytes: [u8; 8] = desc
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or("the note is shorter than its three addresses")?;
        Ok(if little_endian {
            u64::from_le_bytes(bytes)
        } else {
            u64::from_be_bytes(bytes)
        })
    };
    let (pc, base, semaphore) = (word(0)?, word(8)?, word(16)?);
    let mut strings = desc[24..].split(|&b| b == 0);
    let mut text = |what: &str| -> Result<String, String> {
        let bytes = strings.next().ok_or(format!("the note has no {what}"))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("the note's {what} is not UTF-8"))
    };
    let provider = text("provider")?;
    let name = text("name")?;
    let args = text("argument specs")?;
    if provider.is_empty() || name.is_empty() {
        return Err("the note has an empty provider or name".into());
    }
    Ok(StapsdtNote {
        pc,
        base,
        semaphore,
        provider,
        name,
        args,
    })
}

/// Every USDT site of the ELF file `bytes` (read from `path`), in note order.
pub fn sites(path: &str, bytes: &[u8]) -> Result<Vec<UsdtSite>, String> {
    let file = ElfFile64::<Endianness>::parse(bytes).map_err(|e| match bytes.get(4) {
        Some(1) => "a 32-bit ELF file, whose USDT probes tracebound cannot read".to_string(),
        _ => format!("not a readable 64-bit ELF file ({e})"),
    })?;
    let endian = file.endian();
    let little_endian = matches!(endian, Endianness::Little);
    let sections = file.elf_section_table();
    let section_address = |name: &[u8]| {
        sections
            .section_by_name(endian, name)
            .map(|(_, s)| s.sh_addr(endian))
    };
    let stapsdt_base = section_address(b".stapsdt.base");
    // Loadable segments as (address, size in the file, file offset).
    let segments: Vec<(u64, u64, u64)> = file
        .elf_program_headers()
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
        .map(|ph| (ph.p_vaddr(endian), ph.p_filesz(endian), ph.p_offset(endian)))
        .collect();
    let file_offset = |address: u64| {
        segments.iter().find_map(|&(start, size, offset)| {
            (address >= start && address - start < size).then(|| address - start + offset)
        })
    };

    let mut out = Vec::new();
    for section in sections.iter() {
        let Some(mut notes) = section
            .notes(endian, bytes)
            .map_err(|e| format!("a note section is malformed ({e})"))?
        else {
            continue;
        };
        while let Some(note) = notes
            .next()
            .map_err(|e| format!("a note is malformed ({e})"))?
        {
            if note.name() != NOTE_OWNER || note.n_type(endian) != NOTE_TYPE {
                continue;
            }
            let n = decode_desc(note.desc(), little_endian)?;
            // Prelink moved `.stapsdt.base`: everything the note points at moved with it.
            let shift = stapsdt_base.map_or(0, |actual| actual.wrapping_sub(n.base));
            let pc = n.pc.wrapping_add(shift);
            let offset = file_offset(pc).ok_or(format!(
                "the USDT probe {}:{} is at {pc:#x}, outside every loadable segment",
                n.provider, n.name
            ))?;
            let semaphore = match n.semaphore {
                0 => None,
                address => Some(file_offset(address.wrapping_add(shift)).ok_or(format!(
                    "the semaphore of the USDT probe {}:{} is at {address:#x}, outside every \
                     loadable segment",
                    n.provider, n.name
                ))?),
            };
            out.push(UsdtSite {
                path: path.to_string(),
                provider: n.provider,
                name: n.name,
                offset,
                semaphore,
                args: n.args,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(pc: u64, base: u64, semaphore: u64, strings: &[&str]) -> Vec<u8> {
        let mut d = Vec::new();
        for w in [pc, base, semaphore] {
            d.extend_from_slice(&w.to_le_bytes());
        }
        for s in strings {
            d.extend_from_slice(s.as_bytes());
            d.push(0);
        }
        d
    }

    #[test]
    fn decodes_a_descriptor() {
        let note = decode_desc(
            &desc(0x1287, 0x2010, 0x4058, &["tb", "regs", "-8@%rdi -4@%eax"]),
            true,
        )
        .unwrap();
        assert_eq!(
            note,
            StapsdtNote {
                pc: 0x1287,
                base: 0x2010,
                semaphore: 0x4058,
                provider: "tb".into(),
                name: "regs".into(),
                args: "-8@%rdi -4@%eax".into(),
            }
        );
        // A probe without arguments has an empty spec string.
        let note = decode_desc(&desc(1, 2, 0, &["tb", "tick", ""]), true).unwrap();
        assert_eq!(note.args, "");
    }

    #[test]
    fn refuses_broken_descriptors() {
        assert!(decode_desc(&[0; 20], true).is_err());
        assert!(decode_desc(&desc(1, 2, 0, &["tb"]), true).is_err());
        assert!(decode_desc(&desc(1, 2, 0, &["", "x", ""]), true).is_err());
        let mut bad = desc(1, 2, 0, &["tb", "x", ""]);
        bad[24] = 0xff;
        assert!(decode_desc(&bad, true).is_err());
    }

    #[test]
    fn files_that_are_not_64_bit_elf_are_refused() {
        assert!(sites("/x", b"not an elf").is_err());
        let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
        elf32.resize(64, 0);
        assert!(sites("/x", &elf32).unwrap_err().contains("32-bit"));
    }

    /// A program built against sys/sdt.h: every site, its file offset (where readelf's
    /// address lands in the file), its semaphore and its specs.
    #[test]
    fn reads_the_sites_of_a_program_built_with_sdt_h() {
        let Some(binary) = crate::probes::usdt::tests::build_sdt_program() else {
            return;
        };
        let bytes = std::fs::read(&binary).unwrap();
        let sites = sites(&binary, &bytes).unwrap();
        let names: Vec<(&str, &str)> = sites
            .iter()
            .map(|s| (s.provider.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [("tbunit", "plain"), ("tbunit", "two"), ("tbunit", "gated")]
        );
        assert_eq!(sites[0].args, "");
        assert_eq!(sites[1].args.split_whitespace().count(), 2);
        assert!(sites[0].semaphore.is_none() && sites[1].semaphore.is_none());
        // The semaphore is a zero u16 in the file's data; each probe's nop is a 0x90 there.
        let semaphore = sites[2].semaphore.expect("gated has a semaphore") as usize;
        assert_eq!(&bytes[semaphore..semaphore + 2], &[0, 0]);
        for site in &sites {
            assert_eq!(bytes[site.offset as usize], 0x90, "{site:?}");
        }
    }
}
