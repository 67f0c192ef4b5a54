//! Empty disk images of each format ExportImages writes (RAW, QCOW2, VHD, VMDK): the
//! smallest valid file whose header says the disk's size, sparse, so that a 50 GiB image
//! costs a few blocks. `qemu-img info` reads the size back, `qemu-img check` finds them sound,
//! and ImportImage's probe accepts them.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

use crate::local::import::probe::DiskFormat;

const SECTOR: u64 = 512;

/// Writes into `file` (new and empty) an empty disk of `format` whose virtual size is `size`
/// bytes, a whole number of 512-byte sectors.
pub(super) fn write_empty_disk(
    file: &mut File,
    format: DiskFormat,
    size: u64,
) -> std::io::Result<()> {
    match format {
        // All of it a hole.
        DiskFormat::Raw => file.set_len(size),
        DiskFormat::Qcow2 => write_qcow2(file, size),
        DiskFormat::Vhd => write_dynamic_vhd(file, size),
        DiskFormat::Vmdk => write_sparse_vmdk(file, size),
    }
}

fn write_at(file: &mut File, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// QCOW2 version 2, 64 KiB clusters: the header, an L1 table of empty entries, a refcount
/// table and one refcount block counting those clusters once each. No data cluster.
fn write_qcow2(file: &mut File, size: u64) -> std::io::Result<()> {
    const CLUSTER_BITS: u32 = 16;
    const CLUSTER: u64 = 1 << CLUSTER_BITS;
    // An L2 table of 8-byte entries covers this much of the disk.
    let per_l1_entry = CLUSTER * (CLUSTER / 8);
    let l1_entries = size.div_ceil(per_l1_entry);
    let l1_clusters = (l1_entries * 8).div_ceil(CLUSTER).max(1);
    let l1_offset = CLUSTER;
    let refcount_table = l1_offset + l1_clusters * CLUSTER;
    let refcount_block = refcount_table + CLUSTER;
    let clusters = refcount_block / CLUSTER + 1;

    let mut header = Vec::with_capacity(72);
    header.extend_from_slice(b"QFI\xfb");
    header.extend_from_slice(&2u32.to_be_bytes()); // version
    header.extend_from_slice(&0u64.to_be_bytes()); // backing file offset
    header.extend_from_slice(&0u32.to_be_bytes()); // backing file name length
    header.extend_from_slice(&CLUSTER_BITS.to_be_bytes());
    header.extend_from_slice(&size.to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes()); // no encryption
    header.extend_from_slice(&u32::try_from(l1_entries).unwrap_or(u32::MAX).to_be_bytes());
    header.extend_from_slice(&l1_offset.to_be_bytes());
    header.extend_from_slice(&refcount_table.to_be_bytes());
    header.extend_from_slice(&1u32.to_be_bytes()); // refcount table clusters
    header.extend_from_slice(&0u32.to_be_bytes()); // snapshots
    header.extend_from_slice(&0u64.to_be_bytes()); // snapshots offset
    file.set_len(clusters * CLUSTER)?;
    write_at(file, 0, &header)?;
    write_at(file, refcount_table, &refcount_block.to_be_bytes())?;
    // 16-bit refcounts: each metadata cluster is used once.
    let counts: Vec<u8> = (0..clusters).flat_map(|_| 1u16.to_be_bytes()).collect();
    write_at(file, refcount_block, &counts)
}

/// A dynamic VHD: a copy of the footer, the dynamic header, a block allocation table with
/// every 2 MiB block unallocated, and the footer. The CHS geometry is the largest the format
/// has (65535/16/255), which tells readers to take the footer's size rather than one computed
/// from the geometry (as disks over 127 GiB must).
fn write_dynamic_vhd(file: &mut File, size: u64) -> std::io::Result<()> {
    const BLOCK: u64 = 2 << 20;
    const TABLE_OFFSET: u64 = 1536;
    let blocks = size.div_ceil(BLOCK);
    let table_len = (blocks * 4).next_multiple_of(SECTOR);
    let mut footer = [0u8; 512];
    footer[0..8].copy_from_slice(b"conectix");
    footer[8..12].copy_from_slice(&2u32.to_be_bytes()); // features: the reserved bit
    footer[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes()); // version 1.0
    footer[16..24].copy_from_slice(&SECTOR.to_be_bytes()); // the dynamic header
    footer[28..32].copy_from_slice(b"imfs"); // creator application
    footer[32..36].copy_from_slice(&0x0001_0000u32.to_be_bytes()); // creator version
    footer[36..40].copy_from_slice(b"Wi2k"); // creator host OS, as most writers say
    footer[40..48].copy_from_slice(&size.to_be_bytes()); // original size
    footer[48..56].copy_from_slice(&size.to_be_bytes()); // current size
    footer[56..58].copy_from_slice(&65535u16.to_be_bytes()); // cylinders
    footer[58] = 16; // heads
    footer[59] = 255; // sectors per track
    footer[60..64].copy_from_slice(&3u32.to_be_bytes()); // dynamic disk
    footer[68..84].copy_from_slice(&uuid_bytes(size));
    vhd_checksum(&mut footer, 64);

    let mut header = [0u8; 1024];
    header[0..8].copy_from_slice(b"cxsparse");
    header[8..16].copy_from_slice(&u64::MAX.to_be_bytes()); // no further structure
    header[16..24].copy_from_slice(&TABLE_OFFSET.to_be_bytes());
    header[24..28].copy_from_slice(&0x0001_0000u32.to_be_bytes()); // version 1.0
    header[28..32].copy_from_slice(&u32::try_from(blocks).unwrap_or(u32::MAX).to_be_bytes());
    header[32..36].copy_from_slice(&u32::try_from(BLOCK).unwrap_or(0).to_be_bytes());
    vhd_checksum(&mut header, 36);

    let end = TABLE_OFFSET + table_len;
    write_at(file, 0, &footer)?;
    write_at(file, SECTOR, &header)?;
    // Every block unallocated.
    write_at(
        file,
        TABLE_OFFSET,
        &vec![0xff; usize::try_from(table_len).unwrap_or(0)],
    )?;
    write_at(file, end, &footer)
}

/// A VHD structure's checksum (the one's complement of its bytes' sum, its own field
/// counted as zero), stored at `at`.
fn vhd_checksum(bytes: &mut [u8], at: usize) {
    let sum = bytes
        .iter()
        .fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
    bytes[at..at + 4].copy_from_slice(&(!sum).to_be_bytes());
}

/// Sixteen bytes that identify the disk in its footer: distinct per file written.
fn uuid_bytes(size: u64) -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(nanos as u64).to_be_bytes());
    out[8..].copy_from_slice(&(size ^ u64::from(std::process::id())).to_be_bytes());
    out
}

/// A monolithic sparse VMDK: header, embedded descriptor, the redundant and the primary grain
/// directory each with its grain tables (all empty: no grain is allocated).
fn write_sparse_vmdk(file: &mut File, size: u64) -> std::io::Result<()> {
    const GRAIN_SECTORS: u64 = 128;
    const GTES_PER_GT: u64 = 512;
    const DESCRIPTOR_SECTORS: u64 = 20;
    let capacity = size / SECTOR;
    let grains = capacity.div_ceil(GRAIN_SECTORS);
    let gt_sectors = (GTES_PER_GT * 4).div_ceil(SECTOR);
    let gt_count = grains.div_ceil(GTES_PER_GT);
    let gd_sectors = (gt_count * 4).div_ceil(SECTOR);
    let rgd_offset = 1 + DESCRIPTOR_SECTORS;
    let gd_offset = rgd_offset + gd_sectors + gt_sectors * gt_count;
    let overhead = (gd_offset + gd_sectors + gt_sectors * gt_count).next_multiple_of(GRAIN_SECTORS);

    let mut header = Vec::with_capacity(512);
    header.extend_from_slice(b"KDMV");
    header.extend_from_slice(&1u32.to_le_bytes()); // version
    header.extend_from_slice(&3u32.to_le_bytes()); // flags: newline test, redundant GD
    header.extend_from_slice(&capacity.to_le_bytes());
    header.extend_from_slice(&GRAIN_SECTORS.to_le_bytes());
    header.extend_from_slice(&1u64.to_le_bytes()); // descriptor offset
    header.extend_from_slice(&DESCRIPTOR_SECTORS.to_le_bytes());
    header.extend_from_slice(&u32::try_from(GTES_PER_GT).unwrap_or(512).to_le_bytes());
    header.extend_from_slice(&rgd_offset.to_le_bytes());
    header.extend_from_slice(&gd_offset.to_le_bytes());
    header.extend_from_slice(&overhead.to_le_bytes());
    header.push(0); // cleanly closed
    header.extend_from_slice(b"\n \r\n");
    header.extend_from_slice(&0u16.to_le_bytes()); // not compressed

    // Geometry as VMware's IDE disks give it (16 heads, 63 sectors), capped.
    let cylinders = (capacity / (16 * 63)).min(16383);
    let cid = (uuid_bytes(size)[..4])
        .iter()
        .fold(0u32, |c, &b| (c << 8) | u32::from(b));
    let descriptor = format!(
        "# Disk DescriptorFile\nversion=1\nCID={cid:08x}\nparentCID=ffffffff\n\
         createType=\"monolithicSparse\"\n\n# Extent description\n\
         RW {capacity} SPARSE \"disk.vmdk\"\n\n# The Disk Data Base\n#DDB\n\n\
         ddb.virtualHWVersion = \"4\"\nddb.geometry.cylinders = \"{cylinders}\"\n\
         ddb.geometry.heads = \"16\"\nddb.geometry.sectors = \"63\"\n\
         ddb.adapterType = \"ide\"\n"
    );
    file.set_len(overhead * SECTOR)?;
    write_at(file, 0, &header)?;
    write_at(file, SECTOR, descriptor.as_bytes())?;
    for (directory, tables) in [
        (rgd_offset, rgd_offset + gd_sectors),
        (gd_offset, gd_offset + gd_sectors),
    ] {
        let entries: Vec<u8> = (0..gt_count)
            .flat_map(|i| {
                u32::try_from(tables + i * gt_sectors)
                    .unwrap_or(u32::MAX)
                    .to_le_bytes()
            })
            .collect();
        write_at(file, directory * SECTOR, &entries)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::local::import::probe::{probe, Probe};

    const GIB: u64 = 1 << 30;

    /// What export writes, ImportImage's probe reads back as a sound disk of that size, and
    /// it costs next to nothing on disk however large the disk.
    #[test]
    fn written_disks_probe_as_their_format_and_size_and_are_sparse() {
        let dir = tempfile::tempdir().expect("tempdir");
        for format in [
            DiskFormat::Raw,
            DiskFormat::Qcow2,
            DiskFormat::Vhd,
            DiskFormat::Vmdk,
        ] {
            for size in [GIB, 50 * GIB, 500 * GIB] {
                let path = dir.path().join(format!("{}-{size}", format.name()));
                let mut file = File::create_new(&path).expect("create");
                write_empty_disk(&mut file, format, size).expect("write");
                let mut file = File::open(&path).expect("open");
                match probe(&mut file).expect("probe") {
                    Probe::Disk {
                        format: found,
                        virtual_size,
                        sound,
                        ..
                    } => {
                        assert_eq!(found, format);
                        assert_eq!(virtual_size, size, "{format:?}");
                        assert!(sound, "{format:?} {size}");
                    }
                    other => panic!("{format:?}: {other:?}"),
                }
                let blocks = std::fs::metadata(&path).expect("metadata").blocks();
                assert!(blocks * 512 < 8 << 20, "{format:?} {size}: {blocks} blocks");
            }
        }
    }
}
