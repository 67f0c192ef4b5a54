//! The local backend: an embedded emulator of the image service, its state in one SQLite
//! store that several accounts (several mounts) share.

pub mod catalog;
mod copies;
mod faults;
mod fees;
mod ids;
mod images;
pub mod import;
mod instances;
mod journal;
mod listings;
mod quota;
mod rows;
mod seeding;
pub mod settings;
mod sharing;
pub mod store;
#[cfg(test)]
mod testing;
mod transitions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountInfo, CreateImageSpec, Image, ImageEntry, ImageId, ImageKind, ImportImageOs,
    ImportImageSpec, Instance, InstanceEntry, InstanceId, LaunchSpec, Price, Quota, Region,
};
use crate::service::{Caller, ChangeCursor, Changes, ImageService, ImageView};
use catalog::Catalog;
use import::probe::Probe;
use import::{caller, probe};
use store::Store;

use faults::take_injection;
use ids::new_image_id;
use images::{check_image_description, check_image_name, check_name_free};
use quota::check_quota;
use rows::{insert_image_row, NewImageRow};
use transitions::settle;

pub use faults::INJECTIONS;
pub use images::image_counts;
pub use instances::instance_count;
pub use seeding::{insert_custom_image, insert_share, insert_synthetic_images, NewCustomImage};

/// The local emulator, acting as one account of a store.
pub struct LocalService {
    store: Arc<Store>,
    account: AccountId,
    regions: Vec<Region>,
    catalog: Catalog,
    account_created: bool,
    /// The transition delay for this service, overriding the store's setting.
    transition_delay: Option<Duration>,
}

impl LocalService {
    /// Acts as `account` (the store's default account when `None`), adding it to the store
    /// if the store does not know it yet.
    pub fn open(store: Arc<Store>, account: Option<AccountId>) -> Result<LocalService> {
        let account = match account {
            Some(a) => a,
            None => store.default_account()?,
        };
        let account_created = store.add_account(&account)?;
        if account_created {
            log::info!(
                "account {account} was new to store {}: created it",
                store.path().display()
            );
        }
        let catalog = store.catalog()?;
        let regions = store.regions()?;
        Ok(LocalService {
            store,
            account,
            regions,
            catalog,
            account_created,
            transition_delay: None,
        })
    }

    /// Overrides the store's transition delay for the work this service starts.
    pub fn with_transition_delay(mut self, delay: Option<Duration>) -> LocalService {
        self.transition_delay = delay;
        self
    }

    pub fn account_id(&self) -> &AccountId {
        &self.account
    }

    /// Whether opening this service added its account to the store.
    pub fn account_was_created(&self) -> bool {
        self.account_created
    }

    fn region(&self, region: &str) -> Result<&Region> {
        crate::model::find_region(&self.regions, region)
    }
}

/// How long an import may take to open and read its file's header.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

impl ImageService for LocalService {
    fn changes(&self, since: Option<ChangeCursor>) -> Result<Option<Changes>> {
        journal::changes(&self.store, since)
    }

    fn account(&self) -> Result<AccountInfo> {
        Ok(AccountInfo {
            account_id: self.account.clone(),
            backend: "local".into(),
            store: Some(self.store.path().display().to_string()),
        })
    }

    fn regions(&self) -> Result<Vec<Region>> {
        Ok(self.regions.clone())
    }

    fn list_images(&self, region: &str, kind: ImageKind) -> Result<Vec<ImageEntry>> {
        self.list_images_after(region, kind, None, usize::MAX)
    }

    fn list_images_after(
        &self,
        region: &str,
        kind: ImageKind,
        after: Option<&ImageId>,
        limit: usize,
    ) -> Result<Vec<ImageEntry>> {
        listings::list_images_after(self, region, kind, after, limit)
    }

    fn name_counts(
        &self,
        region: &str,
        kind: ImageKind,
        names: &[&str],
    ) -> Result<HashMap<String, usize>> {
        listings::name_counts(self, region, kind, names)
    }

    fn images_named(&self, region: &str, kind: ImageKind, name: &str) -> Result<Vec<ImageEntry>> {
        listings::images_named(self, region, kind, name)
    }

    fn image(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Image> {
        images::image(self, region, kind, id)
    }

    fn images_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<Image>> {
        listings::images_from(self, region, kind, first, backwards, limit)
    }

    fn image_views_from(
        &self,
        region: &str,
        kind: ImageKind,
        first: &ImageId,
        backwards: bool,
        limit: usize,
    ) -> Result<Vec<ImageView>> {
        listings::image_views_from(self, region, kind, first, backwards, limit)
    }

    fn price(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<Price> {
        fees::price(self, region, kind, id)
    }

    fn image_view(&self, region: &str, kind: ImageKind, id: &ImageId) -> Result<ImageView> {
        images::image_view(self, region, kind, id)
    }

    fn quota(&self, region: &str) -> Result<Quota> {
        quota::quota(self, region)
    }

    fn import_os(&self, region: &str) -> Result<ImportImageOs> {
        self.region(region)?;
        Ok(self.catalog.import_image_os.clone())
    }

    fn list_instances(&self, region: &str) -> Result<Vec<InstanceEntry>> {
        instances::list_instances(self, region)
    }

    fn instance(&self, region: &str, id: &InstanceId) -> Result<Instance> {
        instances::instance(self, region, id)
    }

    fn run_instances(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        spec: &LaunchSpec,
    ) -> Result<Vec<InstanceId>> {
        instances::run_instances(self, region, kind, image, spec)
    }

    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<ImageId> {
        images::create_image(self, region, instance, spec)
    }

    fn reset_instance(&self, region: &str, instance: &InstanceId, image: &ImageId) -> Result<()> {
        instances::reset_instance(self, region, instance, image)
    }

    fn terminate_instance(&self, region: &str, instance: &InstanceId) -> Result<()> {
        self.terminate_instances(region, std::slice::from_ref(instance))
    }

    fn share_accounts(&self, region: &str, image: &ImageId) -> Result<Vec<AccountId>> {
        sharing::share_accounts(self, region, image)
    }

    fn modify_image(
        &self,
        region: &str,
        image: &ImageId,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<()> {
        images::modify_image(self, region, image, name, description)
    }

    fn share_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        sharing::share_image(self, region, image, accounts)
    }

    fn unshare_image(&self, region: &str, image: &ImageId, accounts: &[AccountId]) -> Result<()> {
        sharing::unshare_image(self, region, image, accounts)
    }

    fn sync_images(
        &self,
        region: &str,
        kind: ImageKind,
        image: &ImageId,
        destinations: &[String],
    ) -> Result<Vec<(String, ImageId)>> {
        copies::sync_images(self, region, kind, image, destinations)
    }

    fn delete_image(&self, region: &str, image: &ImageId) -> Result<()> {
        self.delete_images(region, std::slice::from_ref(image))
    }

    fn import_image(
        &self,
        region: &str,
        spec: &ImportImageSpec,
        caller: &Caller,
    ) -> Result<Option<ImageId>> {
        self.throttle()?;
        self.region(region)?;
        let os = &self.catalog.import_image_os;
        let windows = os
            .import_image_os_list_supported
            .windows
            .contains(&spec.os_type);
        let linux = os
            .import_image_os_list_supported
            .linux
            .contains(&spec.os_type);
        if !windows && !linux {
            return Err(Error::new(
                "InvalidImageOsType.Unsupported",
                format!(
                    "OsType `{}` cannot be imported; import-os.json lists the accepted ones",
                    spec.os_type
                ),
            ));
        }
        let versions = os
            .import_image_os_version_set
            .iter()
            .find(|v| v.os_name == spec.os_type);
        if !versions.is_some_and(|v| v.os_versions.contains(&spec.os_version)) {
            return Err(Error::new(
                "InvalidImageOsVersion.Unsupported",
                format!(
                    "OsVersion `{}` of {} cannot be imported; accepted: {}",
                    spec.os_version,
                    spec.os_type,
                    versions
                        .map(|v| v.os_versions.join(", "))
                        .unwrap_or_default()
                ),
            ));
        }
        if !versions.is_some_and(|v| v.architecture.contains(&spec.architecture)) {
            return Err(Error::new(
                "InvalidParameterValue",
                format!(
                    "Architecture `{}` is not accepted for {}; accepted: {}",
                    spec.architecture,
                    spec.os_type,
                    versions
                        .map(|v| v.architecture.join(", "))
                        .unwrap_or_default()
                ),
            ));
        }
        let license = spec.license_type.as_deref().unwrap_or("TencentCloud");
        if license != "TencentCloud" && license != "BYOL" {
            return Err(Error::new(
                "InvalidParameterValue.InvalidLicenseType",
                format!("LicenseType `{license}` is not TencentCloud or BYOL"),
            ));
        }
        if let Some(mode) = spec.boot_mode.as_deref() {
            if mode != "Legacy BIOS" && mode != "UEFI" {
                return Err(Error::new(
                    "InvalidParameterValue.InvalidBootMode",
                    format!("BootMode `{mode}` is not `Legacy BIOS` or `UEFI`"),
                ));
            }
        }
        check_image_name(&spec.image_name)?;
        let description = spec.image_description.clone().unwrap_or_default();
        check_image_description(&description)?;

        let path = local_image_path(&spec.image_url, caller)?;
        let shown = spec.image_url.as_str();
        let url_error = |message: String, errno: i32| {
            Error::with_errno("InvalidParameter.InvalidParameterUrlError", message, errno)
        };
        // Opened and probed on a thread of its own: a file that cannot be read promptly (one
        // inside this very mount, while every FUSE worker waits) costs a timeout, not a hang.
        let (done, outcome) = std::sync::mpsc::channel();
        let (who, target) = (*caller, path.clone());
        std::thread::Builder::new()
            .name("imagefs-probe".into())
            .spawn(move || {
                let result = caller::open_as(&who, &target).and_then(|mut f| probe::probe(&mut f));
                let _ = done.send(result);
            })
            .map_err(|e| Error::internal(format!("cannot start a probe: {e}")))?;
        let found = match outcome.recv_timeout(PROBE_TIMEOUT) {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                return Err(match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
                        url_error(format!("{shown}: no such file"), libc::ENOENT)
                    }
                    Some(libc::EACCES) | Some(libc::EPERM) => url_error(
                        format!("{shown}: permission denied (the file is read as uid {}, who wrote the command)", caller.uid),
                        libc::EACCES,
                    ),
                    Some(libc::EINVAL) => url_error(format!("{shown} is not a regular file"), libc::EINVAL),
                    _ => url_error(format!("{shown}: cannot read: {e}"), libc::EINVAL),
                })
            }
            Err(_) => {
                return Err(url_error(
                    format!("{shown} could not be read within {} s (is it inside an imagefs mount?)", PROBE_TIMEOUT.as_secs()),
                    libc::EAGAIN,
                ))
            }
        };
        let (format, virtual_size, file_size, problem) = match found {
            Probe::Disk {
                format,
                virtual_size,
                file_size,
                problem,
                ..
            } => (format.name(), virtual_size, file_size, problem),
            Probe::Iso { file_size } if spec.force => ("ISO", file_size, file_size, None),
            Probe::Iso { .. } => {
                return Err(Error::new(
                    "InvalidParameterValue.ISOMustImportByForce",
                    format!("{shown} is an ISO image: import it with \"Force\": true"),
                ))
            }
            Probe::Unsupported(what) => {
                return Err(Error::new(
                    "InvalidParameterValue",
                    format!(
                        "{shown} is {what}; ImportImage takes RAW, QCOW2, VHD or VMDK disk images"
                    ),
                ))
            }
        };
        const GIB: u64 = 1 << 30;
        if file_size > 50 * GIB {
            return Err(Error::new(
                "InvalidParameterValue.TooLarge",
                format!(
                    "{shown} is {:.1} GiB; ImportImage takes files up to 50 GB",
                    file_size as f64 / GIB as f64
                ),
            ));
        }
        if virtual_size > 500 * GIB {
            return Err(Error::new(
                "InvalidParameterValue.TooLarge",
                format!(
                    "{shown} is a {} GiB disk; imported system disks may be at most 500 GB",
                    virtual_size.div_ceil(GIB)
                ),
            ));
        }
        if spec.dry_run {
            return Ok(None);
        }
        let image_size = i64::try_from(virtual_size.div_ceil(GIB).max(1)).unwrap_or(i64::MAX);
        if let Some(problem) = &problem {
            log::info!("import of {shown} ({format}) will fail: {problem}");
        }
        let bits = if spec.architecture == "i386" {
            "32位"
        } else {
            "64位"
        };
        let os_name = format!("{} {} {bits}", spec.os_type, spec.os_version);
        let platform = if windows {
            "Windows"
        } else {
            spec.os_type.as_str()
        };
        let architecture = if spec.architecture == "arm_64" {
            "arm"
        } else {
            spec.architecture.as_str()
        };
        self.store.with_tx(|tx| {
            settle(tx)?;
            check_name_free(tx, region, &self.account, &spec.image_name)?;
            check_quota(tx, region, &self.account)?;
            // Taken with the insert: a refused import does not use up an injected failure.
            let injected = take_injection(tx, "inject_import_fails")?;
            let final_state = if problem.is_some() || injected {
                "IMPORTFAILED"
            } else {
                "NORMAL"
            };
            let (state, pending_final, due) = self.transition("IMPORTING", final_state)?;
            let id = new_image_id(tx)?;
            insert_image_row(
                tx,
                &NewImageRow {
                    region,
                    image_id: &id,
                    owner: &self.account,
                    image_name: &spec.image_name,
                    image_description: &description,
                    os_name: &os_name,
                    platform,
                    architecture,
                    image_size,
                    image_source: "EXTERNAL_IMPORT",
                    license_type: license,
                    state,
                    final_state: pending_final,
                    due,
                    snapshots: &[],
                    fee: None,
                    provider: None,
                },
            )?;
            Ok(Some(id))
        })
    }
}

/// The local file an `ImageUrl` names: an absolute path, a `file://` URL, or a path relative
/// to the working directory of the process that wrote the command.
fn local_image_path(url: &str, caller: &Caller) -> Result<PathBuf> {
    let refuse = |m: String| Error::new("InvalidParameter.InvalidParameterUrlError", m);
    if url.contains('\0') {
        return Err(refuse("ImageUrl contains a NUL byte".into()));
    }
    let path = match url.strip_prefix("file://") {
        Some(rest) => rest,
        None if url.contains("://") => {
            return Err(refuse(format!(
            "ImageUrl `{url}`: the local backend imports local files; give a path or a file:// URL"
        )))
        }
        None => url,
    };
    if path.is_empty() {
        return Err(refuse("ImageUrl is empty".into()));
    }
    let path = Path::new(path);
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(PathBuf::from(format!("/proc/{}/cwd", caller.pid)).join(path))
    }
}
