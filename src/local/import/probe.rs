//! Disk-image header probing for ImportImage: which format a file is (RAW, QCOW2, VHD, VMDK),
//! its virtual size, and whether its structure holds together.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Disk formats ImportImage accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    Qcow2,
    Vhd,
    Vmdk,
}

impl DiskFormat {
    pub fn name(self) -> &'static str {
        match self {
            DiskFormat::Raw => "RAW",
            DiskFormat::Qcow2 => "QCOW2",
            DiskFormat::Vhd => "VHD",
            DiskFormat::Vmdk => "VMDK",
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A disk image of an accepted format. `sound` is false when the header parses but the
    /// file does not hold what it promises (truncated, offsets past the end): the import is
    /// accepted and then fails, as the cloud's does.
    Disk {
        format: DiskFormat,
        virtual_size: u64,
        file_size: u64,
        sound: bool,
        problem: Option<String>,
    },
    /// An ISO 9660 image: importable only with `Force`.
    Iso { file_size: u64 },
    /// Not a format ImportImage accepts; the string says what it looks like.
    Unsupported(String),
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn read_at(file: &mut File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn disk(format: DiskFormat, virtual_size: u64, file_size: u64, problem: Option<String>) -> Probe {
    Probe::Disk {
        format,
        virtual_size,
        file_size,
        sound: problem.is_none(),
        problem,
    }
}

/// Probes an open file.
pub fn probe(file: &mut File) -> std::io::Result<Probe> {
    let file_size = file.metadata()?.len();
    let head = read_at(file, 0, 64 * 1024)?;

    if head.starts_with(b"QFI\xfb") {
        return Ok(qcow2(&head, file_size));
    }

    if head.starts_with(b"KDMV") {
        return Ok(sparse_vmdk(&head, file_size));
    }
    if head.starts_with(b"# Disk DescriptorFile") {
        return Ok(descriptor_vmdk(&head, file_size));
    }

    // VHD: a 512-byte footer "conectix" at the end (fixed and dynamic); dynamic disks also
    // carry a copy at the start.
    if file_size >= 512 {
        if let Some(found) = vhd(file, &head, file_size)? {
            return Ok(found);
        }
    }

    // ISO 9660: "CD001" at the first volume descriptor (sector 16 of 2048 bytes).
    if file_size > 32774 {
        let volume = read_at(file, 32769, 5)?;
        if volume == b"CD001" {
            return Ok(Probe::Iso { file_size });
        }
    }

    if let Some(what) = other_format(&head) {
        return Ok(Probe::Unsupported(what.into()));
    }
    if file_size == 0 {
        return Ok(Probe::Unsupported("an empty file".into()));
    }
    if file_size % 512 != 0 {
        return Ok(Probe::Unsupported(format!(
            "neither RAW (its {file_size} bytes are not whole 512-byte sectors) nor QCOW2, VHD or VMDK"
        )));
    }
    Ok(disk(DiskFormat::Raw, file_size, file_size, None))
}

/// A file that starts with the QCOW magic.
fn qcow2(head: &[u8], file_size: u64) -> Probe {
    let version = be_u32(head, 4);
    if !(2..=3).contains(&version) {
        return Probe::Unsupported(format!("QCOW version {version}"));
    }
    if head.len() < 72 {
        return disk(
            DiskFormat::Qcow2,
            0,
            file_size,
            Some("QCOW2 header is truncated".into()),
        );
    }
    let cluster_bits = be_u32(head, 20);
    let virtual_size = be_u64(head, 24);
    let l1_size = u64::from(be_u32(head, 36));
    let l1_offset = be_u64(head, 40);
    let problem = if !(9..=21).contains(&cluster_bits) {
        Some(format!("QCOW2 cluster size 2^{cluster_bits} is invalid"))
    } else if l1_offset.saturating_add(l1_size.saturating_mul(8)) > file_size {
        Some("QCOW2 L1 table lies beyond the end of the file (truncated?)".into())
    } else {
        None
    };
    disk(DiskFormat::Qcow2, virtual_size, file_size, problem)
}

/// A file that starts with the sparse VMDK extent magic.
fn sparse_vmdk(head: &[u8], file_size: u64) -> Probe {
    // Sparse VMDK extent: capacity in sectors.
    let capacity = le_u64(head, 12);
    let grain = le_u64(head, 20);
    let descriptor_offset = le_u64(head, 28);
    let problem = if grain == 0 || !grain.is_power_of_two() {
        Some("VMDK grain size is invalid".into())
    } else if descriptor_offset.saturating_mul(512) > file_size {
        Some("VMDK descriptor lies beyond the end of the file (truncated?)".into())
    } else {
        None
    };
    disk(
        DiskFormat::Vmdk,
        capacity.saturating_mul(512),
        file_size,
        problem,
    )
}

/// A file that starts as a VMDK descriptor.
fn descriptor_vmdk(head: &[u8], file_size: u64) -> Probe {
    // A descriptor-only VMDK: the extents' sector counts add up to the disk.
    let text = String::from_utf8_lossy(head);
    let sectors: u64 = text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("RW" | "RDONLY" | "NOACCESS"), Some(n)) => n.parse::<u64>().ok(),
                _ => None,
            }
        })
        // A crafted descriptor must not wrap around to a small disk.
        .fold(0u64, u64::saturating_add);
    let problem = (sectors == 0).then(|| "VMDK descriptor lists no extents".to_string());
    disk(
        DiskFormat::Vmdk,
        sectors.saturating_mul(512),
        file_size,
        problem,
    )
}

/// A VHD, if the file of at least 512 bytes has a VHD footer at its end or a copy of one at
/// its start.
fn vhd(file: &mut File, head: &[u8], file_size: u64) -> std::io::Result<Option<Probe>> {
    let footer = read_at(file, file_size - 512, 512)?;
    let start_copy = head.starts_with(b"conectix");
    if !(footer.starts_with(b"conectix") || start_copy) {
        return Ok(None);
    }
    let footer = if footer.starts_with(b"conectix") {
        footer
    } else {
        head[..512.min(head.len())].to_vec()
    };
    let current_size = be_u64(&footer, 48);
    let disk_type = be_u32(&footer, 60);
    let problem = match disk_type {
        2 if file_size != current_size.saturating_add(512) => {
            Some("fixed VHD is shorter or longer than its disk (truncated?)".to_string())
        }
        2 => None,
        3 | 4 => {
            let data_offset = be_u64(&footer, 16);
            if data_offset.saturating_add(8) > file_size {
                return Ok(Some(disk(
                    DiskFormat::Vhd,
                    current_size,
                    file_size,
                    Some("dynamic VHD header lies beyond the end of the file".into()),
                )));
            }
            let header = read_at(file, data_offset, 8)?;
            if header.starts_with(b"cxsparse") && footer_at_end(file, file_size)? {
                None
            } else {
                Some("dynamic VHD header or footer is missing (truncated?)".to_string())
            }
        }
        other => Some(format!("VHD disk type {other} is invalid")),
    };
    Ok(Some(disk(
        DiskFormat::Vhd,
        current_size,
        file_size,
        problem,
    )))
}

/// What a file of a format ImportImage does not take looks like, known by its magic.
fn other_format(head: &[u8]) -> Option<&'static str> {
    // VDI keeps its signature at offset 0x40, after a free-text banner.
    if le_u32(head, 0x40) == 0xbeda_107f {
        return Some("a VDI (VirtualBox) image");
    }
    for (magic, name) in [
        (
            &b"<<< Oracle VM VirtualBox Disk Image >>>"[..],
            "a VirtualBox VDI image",
        ),
        (&b"\x1f\x8b"[..], "a gzip archive"),
        (&b"PK\x03\x04"[..], "a zip archive"),
        (&b"BZh"[..], "a bzip2 archive"),
        (&b"\xfd7zXZ"[..], "an xz archive"),
        (&b"vhdxfile"[..], "a VHDX image"),
        (&b"QFI\xfb"[..], "a QCOW image"),
        (&b"QED\0"[..], "a QED image"),
        (&b"WithoutFreeSpace"[..], "a Parallels image"),
    ] {
        if head.starts_with(magic) {
            return Some(name);
        }
    }
    None
}

fn footer_at_end(file: &mut File, file_size: u64) -> std::io::Result<bool> {
    let footer = read_at(file, file_size - 512, 8)?;
    Ok(footer.starts_with(b"conectix"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn probe_bytes(bytes: &[u8]) -> Probe {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        probe(&mut f).unwrap()
    }

    #[test]
    fn raw_is_whole_sectors_matching_nothing_else() {
        assert!(matches!(
            probe_bytes(&vec![0u8; 4096]),
            Probe::Disk {
                format: DiskFormat::Raw,
                virtual_size: 4096,
                sound: true,
                ..
            }
        ));
        assert!(matches!(
            probe_bytes(&vec![0u8; 1000]),
            Probe::Unsupported(_)
        ));
        assert!(matches!(probe_bytes(b""), Probe::Unsupported(_)));
    }

    #[test]
    fn qcow2_header_gives_the_virtual_size() {
        let mut h = vec![0u8; 1024];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[20..24].copy_from_slice(&16u32.to_be_bytes());
        h[24..32].copy_from_slice(&(20u64 << 30).to_be_bytes());
        h[36..40].copy_from_slice(&1u32.to_be_bytes());
        h[40..48].copy_from_slice(&512u64.to_be_bytes());
        match probe_bytes(&h) {
            Probe::Disk {
                format,
                virtual_size,
                sound,
                ..
            } => {
                assert_eq!(format, DiskFormat::Qcow2);
                assert_eq!(virtual_size, 20 << 30);
                assert!(sound);
            }
            other => panic!("{other:?}"),
        }
        // The L1 table beyond the end of the file: accepted, then fails.
        h[40..48].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(matches!(probe_bytes(&h), Probe::Disk { sound: false, .. }));
    }

    #[test]
    fn other_formats_are_named() {
        let mut vdi = b"<<< Oracle VM VirtualBox Disk Image >>>\n".to_vec();
        vdi.resize(1024, 0);
        assert_eq!(
            probe_bytes(&vdi),
            Probe::Unsupported("a VirtualBox VDI image".into())
        );
        let mut gz = vec![0x1f, 0x8b];
        gz.resize(512, 0);
        assert_eq!(
            probe_bytes(&gz),
            Probe::Unsupported("a gzip archive".into())
        );
    }

    #[test]
    fn crafted_headers_neither_wrap_nor_fail() {
        let descriptor =
            "# Disk DescriptorFile\nRW 18446744073709551615 FLAT \"a\" 0\nRW 2 FLAT \"b\" 0\n";
        match probe_bytes(descriptor.as_bytes()) {
            Probe::Disk { virtual_size, .. } => assert_eq!(virtual_size, u64::MAX),
            other => panic!("{other:?}"),
        }
        // A dynamic VHD whose header offset points past the end.
        let mut vhd = vec![0u8; 1024];
        vhd[512..520].copy_from_slice(b"conectix");
        vhd[512 + 16..512 + 24].copy_from_slice(&u64::MAX.to_be_bytes());
        vhd[512 + 48..512 + 56].copy_from_slice(&(1u64 << 30).to_be_bytes());
        vhd[512 + 60..512 + 64].copy_from_slice(&3u32.to_be_bytes());
        assert!(matches!(
            probe_bytes(&vhd),
            Probe::Disk { sound: false, .. }
        ));
    }

    #[test]
    fn iso_images_are_recognised() {
        let mut iso = vec![0u8; 40960];
        iso[32769..32774].copy_from_slice(b"CD001");
        assert!(matches!(probe_bytes(&iso), Probe::Iso { .. }));
    }
}
