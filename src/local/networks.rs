//! The network and disks an instance is given: the account's default VPC, subnets and
//! security group in a region, private and public addresses, disk IDs, UUIDs and host names.
//!
//! Every account has, in every region, one default VPC, one default subnet per zone (the cloud
//! makes them per zone: its `CheckDefaultSubnet` takes a zone) and one default security group,
//! as an account that never touched its network has in the cloud. Their IDs are derived from
//! the account, region and zone, so they are stable without being stored: the same on every
//! mount and server of any store, in the cloud's formats (`vpc-`, `subnet-`, `sg-` and 8
//! lowercase letters or digits).
//!
//! Address plan: no public source gives the CIDR of a default VPC. imagefs uses 172.16.0.0/16,
//! in which the API reference's own example address (172.16.32.78, ap-guangzhou-3) lies, with
//! zone n's default subnet the /20 at 172.16.(16 × (n − 1)).0: the example's address is then in
//! its zone's subnet. This plan is imagefs's, not the cloud's.

use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::model::AccountId;

/// What the IDs of one kind of resource are derived from, kept apart by the kind's name.
fn derived_suffix(kind: &str, parts: &[&str]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // FNV-1a over the parts (each ended by a 0 byte, so ("ab", "c") and ("a", "bc") differ),
    // then splitmix64's finalizer: FNV alone leaves similar inputs with similar low digits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind)
        .chain(parts.iter().copied())
        .flat_map(|p| p.bytes().chain([0]))
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (0..8)
        .map(|i| DIGITS[((hash >> (i * 6)) % 36) as usize] as char)
        .collect()
}

/// The account's default VPC in a region.
pub(super) fn default_vpc(account: &AccountId, region: &str) -> String {
    format!("vpc-{}", derived_suffix("vpc", &[account.as_str(), region]))
}

/// The account's default subnet in a zone (of its region's default VPC).
pub(super) fn default_subnet(account: &AccountId, zone: &str) -> String {
    format!(
        "subnet-{}",
        derived_suffix("subnet", &[account.as_str(), zone])
    )
}

/// The account's default security group in a region.
pub(super) fn default_security_group(account: &AccountId, region: &str) -> String {
    format!("sg-{}", derived_suffix("sg", &[account.as_str(), region]))
}

/// The ID of an instance's disk: `index` 0 is the system disk, 1 and on its data disks.
pub(super) fn disk_id(instance: &str, index: usize) -> String {
    format!(
        "disk-{}",
        derived_suffix("disk", &[instance, &index.to_string()])
    )
}

/// Whether `id` is `prefix-` and 8 lowercase letters or digits (the cloud's resource IDs).
pub(super) fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|s| {
            s.len() == 8
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The third octet where zone `zone`'s default subnet starts (its /20).
fn subnet_base(zone: &str) -> u8 {
    let number: u32 = zone
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (((number.max(1) - 1) % 16) * 16) as u8
}

/// Random bytes from the kernel.
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    // SAFETY: getrandom writes at most bytes.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        return Err(Error::internal("no randomness for a new instance"));
    }
    Ok(bytes)
}

/// A random version-4 UUID, lowercase (as the API shows `Uuid`).
pub(super) fn random_uuid() -> Result<String> {
    let mut b: [u8; 16] = random_bytes()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// A private address in the zone's default subnet that no instance of the account in the
/// region has (the subnet's first two and last addresses are the network's own).
pub(super) fn new_private_ip(
    c: &Connection,
    account: &AccountId,
    region: &str,
    zone: &str,
) -> Result<String> {
    let base = subnet_base(zone);
    let mut taken = c.prepare_cached(
        "SELECT 1 FROM instances WHERE owner = ?1 AND region = ?2 AND private_ip = ?3",
    )?;
    for _ in 0..64 {
        let [high, low]: [u8; 2] = random_bytes()?;
        let ip = format!("172.16.{}.{}", base + high % 16, 2 + u32::from(low) % 252);
        if !taken.exists(params![account.as_str(), region, ip])? {
            return Ok(ip);
        }
    }
    Err(Error::internal(format!(
        "no free private address left in the default subnet of {zone}"
    )))
}

/// A public address for an instance that asks for one: from 198.18.0.0/15, which is reserved
/// for network tests (RFC 2544) and so is never a real host's, unused in the store.
pub(super) fn new_public_ip(c: &Connection) -> Result<String> {
    let mut taken = c.prepare_cached("SELECT 1 FROM instances WHERE public_ip = ?1")?;
    for _ in 0..64 {
        let [a, b, d]: [u8; 3] = random_bytes()?;
        let ip = format!("198.{}.{}.{}", 18 + (a & 1), b, 1 + u32::from(d) % 254);
        if !taken.exists([&ip])? {
            return Ok(ip);
        }
    }
    Err(Error::internal("no free public address left"))
}

/// The host name an instance gets when RunInstances names none: `VM-<third>-<fourth>-<os>`
/// from its private address and platform, the form of the API reference's example
/// (`VM-4-18-ubuntu`). The reference shows it for Linux only; Windows instances get the same
/// form here, unconfirmed.
pub(super) fn default_host_name(private_ip: &str, platform: &str) -> String {
    let mut octets = private_ip.rsplit('.');
    let fourth = octets.next().unwrap_or("0");
    let third = octets.next().unwrap_or("0");
    let os: String = platform
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("VM-{third}-{fourth}-{os}")
}

/// Who logs in to an image's instances by default, and on which port: `Administrator` over
/// RDP for Windows, `ubuntu` for Ubuntu (Tencent's Ubuntu images log in as `ubuntu`), `root`
/// over SSH otherwise.
pub(super) fn default_login(platform: &str) -> (&'static str, i64) {
    match platform {
        "Windows" => ("Administrator", 3389),
        "Ubuntu" => ("ubuntu", 22),
        _ => ("root", 22),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[test]
    fn default_networks_are_stable_per_account_region_and_zone() {
        let owner = account("100000000001");
        let friend = account("100000000002");
        let vpc = default_vpc(&owner, "ap-guangzhou");
        assert!(is_resource_id(&vpc, "vpc"), "{vpc}");
        assert_eq!(vpc, default_vpc(&owner, "ap-guangzhou"));
        assert_ne!(vpc, default_vpc(&owner, "ap-shanghai"));
        assert_ne!(vpc, default_vpc(&friend, "ap-guangzhou"));
        let subnet = default_subnet(&owner, "ap-guangzhou-3");
        assert!(is_resource_id(&subnet, "subnet"), "{subnet}");
        assert_ne!(subnet, default_subnet(&owner, "ap-guangzhou-4"));
        let sg = default_security_group(&owner, "ap-guangzhou");
        assert!(is_resource_id(&sg, "sg"), "{sg}");
        assert!(is_resource_id(&disk_id("ins-a1b2c3d4", 0), "disk"));
        assert_ne!(disk_id("ins-a1b2c3d4", 0), disk_id("ins-a1b2c3d4", 1));
    }

    #[test]
    fn resource_ids_are_checked() {
        assert!(is_resource_id("sg-p1ezv4wz", "sg"));
        for bad in [
            "sg-p1ezv4w",
            "sg-P1EZV4WZ",
            "vpc-p1ezv4wz",
            "sg_p1ezv4wz",
            "sg-",
        ] {
            assert!(!is_resource_id(bad, "sg"), "{bad}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let uuid = random_uuid().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        assert_ne!(uuid, random_uuid().unwrap());
    }

    #[test]
    fn zones_have_their_own_subnet_range() {
        assert_eq!(subnet_base("ap-guangzhou-1"), 0);
        assert_eq!(subnet_base("ap-guangzhou-3"), 32);
        assert_eq!(subnet_base("ap-shanghai-8"), 112);
    }

    #[test]
    fn default_host_names_follow_the_reference_example() {
        assert_eq!(default_host_name("172.16.4.18", "Ubuntu"), "VM-4-18-ubuntu");
        assert_eq!(
            default_host_name("172.16.32.7", "Rocky Linux"),
            "VM-32-7-rockylinux"
        );
        assert_eq!(default_login("Windows"), ("Administrator", 3389));
        assert_eq!(default_login("CentOS"), ("root", 22));
    }
}
