//! The image service's data, with the API's field names (PascalCase JSON keys).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};

pub mod api;
mod instance;
mod lenient;
pub mod tags;

pub use instance::{
    ChargePrepaidSpec, DataDisk, DataDiskSpec, Instance, InstanceEntry, InstanceStatus,
    InternetAccessible, InternetAccessibleSpec, LaunchSpec, LoginSettings, LoginSettingsSpec,
    Placement, PlacementSpec, Secret, SystemDisk, SystemDiskSpec, VirtualPrivateCloud,
    VirtualPrivateCloudSpec,
};

/// The four kinds of image a user sees, one directory each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageKind {
    Public,
    Custom,
    Shared,
    Marketplace,
}

impl ImageKind {
    pub const ALL: [ImageKind; 4] = [
        ImageKind::Public,
        ImageKind::Custom,
        ImageKind::Shared,
        ImageKind::Marketplace,
    ];

    /// The directory name under `regions/<r>/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            ImageKind::Public => "public",
            ImageKind::Custom => "custom",
            ImageKind::Shared => "shared",
            ImageKind::Marketplace => "marketplace",
        }
    }

    pub fn from_dir_name(name: &str) -> Option<ImageKind> {
        ImageKind::ALL.into_iter().find(|k| k.dir_name() == name)
    }

    /// The API's `ImageType` value. Marketplace images use `MARKET_IMAGE`, the value of the
    /// older API and the Terraform provider (the current API lists no marketplace type).
    pub fn image_type(self) -> &'static str {
        match self {
            ImageKind::Public => "PUBLIC_IMAGE",
            ImageKind::Custom => "PRIVATE_IMAGE",
            ImageKind::Shared => "SHARED_IMAGE",
            ImageKind::Marketplace => "MARKET_IMAGE",
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

/// `ImageState` of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImageState {
    Creating,
    Normal,
    #[serde(rename = "CREATEFAILED")]
    CreateFailed,
    Syncing,
    Importing,
    #[serde(rename = "IMPORTFAILED")]
    ImportFailed,
    /// Being exported (ExportImages): a state the API reference's list omits and its
    /// clients filter on (the Terraform provider waits on `EXPORTING`).
    Exporting,
}

impl ImageState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Creating => "CREATING",
            ImageState::Normal => "NORMAL",
            ImageState::CreateFailed => "CREATEFAILED",
            ImageState::Syncing => "SYNCING",
            ImageState::Importing => "IMPORTING",
            ImageState::ImportFailed => "IMPORTFAILED",
            ImageState::Exporting => "EXPORTING",
        }
    }

    pub fn parse(s: &str) -> Option<ImageState> {
        [
            ImageState::Creating,
            ImageState::Normal,
            ImageState::CreateFailed,
            ImageState::Syncing,
            ImageState::Importing,
            ImageState::ImportFailed,
            ImageState::Exporting,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// Checks the `<prefix>-` + 8 lowercase letters or digits form of resource IDs.
fn is_resource_id(s: &str, prefix: &str) -> bool {
    match s.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) {
        Some(rest) => {
            rest.len() == 8
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        None => false,
    }
}

/// An image ID: `img-` + 8 lowercase letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId(String);

impl ImageId {
    pub fn parse(s: &str) -> Result<ImageId> {
        if is_resource_id(s, "img") {
            Ok(ImageId(s.to_owned()))
        } else {
            Err(Error::new(
                Code::InvalidImageIdMalformed,
                format!("`{s}` is not an image ID: expected img- followed by 8 lowercase letters or digits"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 8 characters after `img-`, as a base-36 number (fits in 42 bits).
    pub fn number(&self) -> u64 {
        base36_value(&self.0[4..])
    }

    /// The inverse of [`ImageId::number`].
    pub fn from_number(n: u64) -> Option<ImageId> {
        base36_string(n).map(|s| ImageId(format!("img-{s}")))
    }
}

fn base36_value(s: &str) -> u64 {
    s.bytes().fold(0u64, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => u64::from(b - b'0'),
            _ => u64::from(b - b'a') + 10,
        };
        acc * 36 + digit
    })
}

fn base36_string(mut n: u64) -> Option<String> {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n >= 36u64.pow(8) {
        return None;
    }
    let mut out = [b'0'; 8];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(out.to_vec()).ok()
}

impl TryFrom<String> for ImageId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        ImageId::parse(&s)
    }
}

impl From<ImageId> for String {
    fn from(id: ImageId) -> String {
        id.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Tencent Cloud root account ID (UIN): a numeric string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<AccountId> {
        if (5..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_owned()))
        } else {
            // The code the cloud's docs give an invalid account ID; EINVAL, as for every
            // malformed value.
            Err(Error::with_errno(
                Code::InvalidAccountIdNotFound,
                format!("`{s}` is not an account ID: expected 5 to 20 digits"),
                libc::EINVAL,
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        AccountId::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> String {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Snapshot` of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    pub snapshot_id: String,
    pub disk_usage: String,
    pub disk_size: i64,
}

/// `Tag` of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The API's `Image` object, field for field, in the API's order. Members the API added over
/// the years default when an older answer lacks them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Image {
    pub image_id: ImageId,
    pub os_name: String,
    pub image_type: String,
    pub created_time: String,
    pub image_name: String,
    pub image_description: String,
    pub image_size: i64,
    pub architecture: String,
    pub image_state: ImageState,
    pub platform: String,
    pub image_creator: String,
    pub image_source: String,
    #[serde(default)]
    pub sync_percent: Option<i64>,
    #[serde(default)]
    pub is_support_cloudinit: bool,
    #[serde(default)]
    pub snapshot_set: Vec<Snapshot>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub license_type: String,
    #[serde(default)]
    pub image_family: String,
    #[serde(default)]
    pub image_deprecated: bool,
    /// The image's cache state in a CDC (a dedicated cluster): empty for an image no CDC
    /// caches, which is every image here.
    #[serde(default)]
    pub cdc_cache_status: String,
}

/// What a directory listing needs of an image: its ID, age and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    pub image_id: ImageId,
    pub created_time: String,
    pub image_name: String,
}

/// A region as `region.json` shows it (`RegionInfo` of the API, plus `Mainland`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Region {
    pub region: String,
    pub region_name: String,
    pub region_state: String,
    pub mainland: bool,
}

/// The region named `name` among `regions`, or `InvalidRegion.NotFound`.
pub fn find_region<'a>(regions: &'a [Region], name: &str) -> Result<&'a Region> {
    regions.iter().find(|r| r.region == name).ok_or_else(|| {
        Error::new(
            Code::InvalidRegionNotFound,
            format!("region `{name}` does not exist (see regions/)"),
        )
    })
}

/// `quota.json`: the account's custom images in a region against its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quota {
    pub custom_image_quota: u64,
    pub custom_images_used: u64,
    pub share_limit_per_image: u64,
}

/// Who a mount acts as (`account.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountInfo {
    pub account_id: AccountId,
    pub backend: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// A recurring fee (`ItemPrice`-like: a unit price per charge unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fee {
    pub unit_price: f64,
    pub charge_unit: String,
    pub currency: String,
}

/// Why launching from an image costs what it costs, beyond the instance itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeType {
    /// Nothing beyond the instance.
    Free,
    /// An operating-system license fee (Windows in overseas regions).
    LicenseFee,
    /// The marketplace provider's fee.
    MarketplaceFee,
}

/// `price.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Price {
    pub image_id: ImageId,
    pub region: String,
    pub free: bool,
    pub charge_type: ChargeType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<Fee>,
    pub reason: String,
}

/// `OsVersion` of the API (DescribeImportImageOs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OsVersion {
    pub os_name: String,
    pub os_versions: Vec<String>,
    pub architecture: Vec<String>,
}

/// `ImageOsList` of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageOsList {
    pub windows: Vec<String>,
    pub linux: Vec<String>,
}

/// DescribeImportImageOs's answer, shown as `import-os.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportImageOs {
    pub import_image_os_list_supported: ImageOsList,
    pub import_image_os_version_set: Vec<OsVersion>,
}

/// The API's timestamp form: `YYYY-MM-DDThh:mm:ssZ`, UTC.
pub fn format_api_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dt = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    dt.format(&fmt).unwrap_or_default()
}

/// Parses an API timestamp (`...Z` or `...+00:00`); `None` if it is not one.
pub fn parse_api_time(s: &str) -> Option<SystemTime> {
    let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let secs = dt.unix_timestamp();
    if secs >= 0 {
        Some(UNIX_EPOCH + Duration::from_secs(secs as u64))
    } else {
        None
    }
}

/// An instance ID: `ins-` + 8 lowercase letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceId(String);

impl InstanceId {
    pub fn parse(s: &str) -> Result<InstanceId> {
        if is_resource_id(s, "ins") {
            Ok(InstanceId(s.to_owned()))
        } else {
            Err(Error::new(
                Code::InvalidInstanceIdMalformed,
                format!("`{s}` is not an instance ID: expected ins- followed by 8 lowercase letters or digits"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 8 characters after `ins-`, as a base-36 number (fits in 42 bits).
    pub fn number(&self) -> u64 {
        base36_value(&self.0[4..])
    }

    pub fn from_number(n: u64) -> Option<InstanceId> {
        base36_string(n).map(|s| InstanceId(format!("ins-{s}")))
    }
}

impl TryFrom<String> for InstanceId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        InstanceId::parse(&s)
    }
}

impl From<InstanceId> for String {
    fn from(id: InstanceId) -> String {
        id.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What makes an image of an instance: a CreateImage request. The filesystem's `create_image`
/// takes one as JSON (the instance comes from the file's path; an `InstanceId` it gives must
/// be that instance).
pub type CreateImageSpec = api::CreateImageRequest;

/// What ModifyImageAttribute changes: each member given is set. An empty `family` takes the
/// image out of its family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub family: Option<String>,
    pub deprecated: Option<bool>,
}

impl ImageChanges {
    pub fn name(name: &str) -> ImageChanges {
        ImageChanges {
            name: Some(name.to_string()),
            ..ImageChanges::default()
        }
    }

    pub fn description(description: &str) -> ImageChanges {
        ImageChanges {
            description: Some(description.to_string()),
            ..ImageChanges::default()
        }
    }

    pub fn family(family: &str) -> ImageChanges {
        ImageChanges {
            family: Some(family.to_string()),
            ..ImageChanges::default()
        }
    }
}

impl From<api::ModifyImageAttributeRequest> for ImageChanges {
    fn from(request: api::ModifyImageAttributeRequest) -> Self {
        ImageChanges {
            name: request.image_name,
            description: request.image_description,
            family: request.image_family,
            deprecated: request.image_deprecated,
        }
    }
}

/// What exports images: an ExportImages request. The filesystem's `export` takes one as JSON
/// (or `BUCKET FORMAT [PREFIX]`), its `ImageIds` the image of the file.
pub type ExportSpec = api::ExportImagesRequest;

/// An export under way: its task and the files it writes, as the API names them (in the
/// bucket) and where they are (local paths for the emulator, `cos://bucket/...` for the cloud).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportTask {
    pub task_id: u64,
    pub cos_paths: Vec<String>,
    pub files: Vec<String>,
}

/// What copies an image into other regions: a SyncImages request. The filesystem's `copy_to`
/// takes one as JSON without `ImageIds` (the image is the file's); the backends are given the
/// image apart and do not read the request's `ImageIds`.
pub type CopySpec = api::SyncImagesRequest;

/// An import: ImportImage parameters, read from an ImportImage request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportImageSpec {
    pub image_name: String,
    pub image_url: String,
    pub os_type: String,
    pub os_version: String,
    pub architecture: String,
    pub image_description: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub license_type: Option<String>,
    pub boot_mode: Option<String>,
    /// `TagSpecification` as the request gave it: the tags the new image gets.
    pub tags: Vec<api::TagSpecification>,
    /// The family the new image joins (none when empty).
    pub image_family: Option<String>,
    /// The file to read, when it is already open: `imagefs serve` opens it itself, confined to
    /// its import directory, and passes `/proc/self/fd/N`. `image_url` then only names the
    /// file in messages, as the client gave it. Never read from a command or a request.
    pub opened: Option<std::path::PathBuf>,
}

/// The members the emulator models; the others are refused when the request is read
/// (`api::ImportImageRequest`'s `unsupported`).
impl From<api::ImportImageRequest> for ImportImageSpec {
    fn from(request: api::ImportImageRequest) -> Self {
        ImportImageSpec {
            image_name: request.image_name,
            image_url: request.image_url,
            os_type: request.os_type,
            os_version: request.os_version,
            architecture: request.architecture,
            image_description: request.image_description,
            force: request.force.unwrap_or(false),
            dry_run: request.dry_run.unwrap_or(false),
            license_type: request.license_type,
            boot_mode: request.boot_mode,
            tags: request.tag_specification.unwrap_or_default(),
            image_family: request.image_family,
            opened: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_are_validated() {
        assert!(ImageId::parse("img-9qabwvbn").is_ok());
        for bad in [
            "img-9qabwvb",
            "img-9qabwvbnn",
            "img-9QABWVBN",
            "ins-9qabwvbn",
            "img_9qabwvbn",
            "",
            "img-",
            "img-9qab/vbn",
        ] {
            let e = ImageId::parse(bad).unwrap_err();
            assert_eq!(e.code(), Code::InvalidImageIdMalformed, "{bad}");
            assert_eq!(e.errno(), libc::EINVAL);
        }
    }

    #[test]
    fn image_id_numbers_round_trip() {
        for s in [
            "img-00000000",
            "img-zzzzzzzz",
            "img-9qabwvbn",
            "img-487zeit5",
        ] {
            let id = ImageId::parse(s).unwrap();
            assert!(id.number() < 1 << 42);
            assert_eq!(ImageId::from_number(id.number()).unwrap(), id);
        }
        assert!(ImageId::from_number(36u64.pow(8)).is_none());
    }

    #[test]
    fn instance_ids_are_validated_and_numbered() {
        let id = InstanceId::parse("ins-a1b2c3d4").unwrap();
        assert_eq!(InstanceId::from_number(id.number()).unwrap(), id);
        assert_eq!(
            InstanceId::parse("img-a1b2c3d4").unwrap_err().code(),
            Code::InvalidInstanceIdMalformed
        );
        assert!(InstanceId::parse("ins-a1b2c3d").is_err());
    }

    #[test]
    fn account_ids_are_numeric() {
        assert!(AccountId::parse("100000000001").is_ok());
        assert!(AccountId::parse("1234").is_err());
        assert!(AccountId::parse("12345a").is_err());
        assert!(AccountId::parse("-12345").is_err());
    }

    #[test]
    fn image_serializes_with_api_field_names() {
        let image = Image {
            image_id: ImageId::parse("img-9qabwvbn").unwrap(),
            os_name: "CentOS 7.6 64位".into(),
            image_type: "PUBLIC_IMAGE".into(),
            created_time: "2020-09-22T00:00:00Z".into(),
            image_name: "CentOS 7.6 64位".into(),
            image_description: "CentOS 7.6 64位".into(),
            image_size: 50,
            architecture: "x86_64".into(),
            image_state: ImageState::Normal,
            platform: "CentOS".into(),
            image_creator: "tencent".into(),
            image_source: "OFFICIAL".into(),
            sync_percent: None,
            is_support_cloudinit: true,
            snapshot_set: vec![],
            tags: vec![],
            license_type: "TencentCloud".into(),
            image_family: String::new(),
            image_deprecated: false,
            cdc_cache_status: String::new(),
        };
        let v = serde_json::to_value(&image).unwrap();
        assert_eq!(v["ImageId"], "img-9qabwvbn");
        assert_eq!(v["ImageState"], "NORMAL");
        assert_eq!(v["ImageSize"], 50);
        assert!(v["SyncPercent"].is_null());
        assert_eq!(v["SnapshotSet"], serde_json::json!([]));
        let back: Image = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, image);
        // Every member of the API's `Image` (CVM 2017-03-12 `objects.Image`), and no other.
        let members: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut spec = vec![
            "ImageId",
            "OsName",
            "ImageType",
            "CreatedTime",
            "ImageName",
            "ImageDescription",
            "ImageSize",
            "Architecture",
            "ImageState",
            "Platform",
            "ImageCreator",
            "ImageSource",
            "SyncPercent",
            "IsSupportCloudinit",
            "SnapshotSet",
            "Tags",
            "LicenseType",
            "ImageFamily",
            "ImageDeprecated",
            "CdcCacheStatus",
        ];
        spec.sort_unstable();
        let mut members = members;
        members.sort_unstable();
        assert_eq!(members, spec);
    }

    #[test]
    fn states_use_api_spelling() {
        assert_eq!(
            serde_json::to_string(&ImageState::CreateFailed).unwrap(),
            "\"CREATEFAILED\""
        );
        assert_eq!(
            serde_json::to_string(&ImageState::ImportFailed).unwrap(),
            "\"IMPORTFAILED\""
        );
        assert_eq!(ImageState::parse("SYNCING"), Some(ImageState::Syncing));
        assert_eq!(ImageState::parse("USING"), None);
    }

    #[test]
    fn api_time_round_trips() {
        let t = parse_api_time("2020-09-22T00:00:00Z").unwrap();
        assert_eq!(format_api_time(t), "2020-09-22T00:00:00Z");
        assert_eq!(parse_api_time("2020-09-22T00:00:00+00:00"), Some(t));
        assert_eq!(parse_api_time("yesterday"), None);
    }
}
