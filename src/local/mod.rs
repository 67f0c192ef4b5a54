//! The local backend: an embedded emulator of the image service, its state in one SQLite
//! store that several accounts (several mounts) share.
//!
//! One module per resource holds its rules: `images` (visibility, CreateImage,
//! ModifyImageAttribute, DeleteImages), `listings`, `instances` (RunInstances,
//! ResetInstance, TerminateInstances), `sharing`, `copies` (SyncImages), `import`
//! (ImportImage), `fees`, `quota`; beside them the mechanisms they share: `settings`,
//! `transitions`, `faults`, `journal`, `ids`, `rows`, `zones` (the catalog's availability
//! zones), `networks` (the default network instances get), and the `store` itself (`seeding`
//! writes to it directly, for tests and benchmarks). The [`ImageService`] implementation
//! below only hands each call to its module.

pub mod catalog;
mod copies;
pub mod credentials;
mod export;
mod families;
mod faults;
mod fees;
mod ids;
mod images;
pub mod import;
mod instances;
mod journal;
mod listings;
mod networks;
mod quota;
mod rows;
mod schema;
mod seeding;
pub mod settings;
mod sharing;
pub mod store;
pub mod tags;
#[cfg(test)]
mod testing;
mod transitions;
mod zones;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::model::tags::TaggedResource;
use crate::model::{
    AccountId, AccountInfo, CopySpec, CreateImageSpec, ExportSpec, ExportTask, Image, ImageChanges,
    ImageEntry, ImageId, ImageKind, ImportImageOs, ImportImageSpec, Instance, InstanceEntry,
    InstanceId, LaunchSpec, Price, Quota, Region, Tag,
};
use crate::service::{Caller, ChangeCursor, Changes, ImageService, ImageView};
use catalog::Catalog;
use store::Store;

pub use faults::INJECTIONS;
pub use images::image_counts;
pub use instances::instance_count;
pub use seeding::{
    insert_custom_image, insert_share, insert_synthetic_images, set_image_name, set_image_names,
    NewCustomImage,
};

/// The local emulator, acting as one account of a store.
pub struct LocalService {
    store: Arc<Store>,
    account: AccountId,
    regions: Vec<Region>,
    catalog: Arc<Catalog>,
    account_created: bool,
    /// The transition delay for this service, overriding the store's setting.
    transition_delay: Option<Duration>,
    /// Where ExportImages writes: each bucket is a folder of it (`--export-dir`); without
    /// it, exports are refused.
    export_dir: Option<PathBuf>,
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
        let (catalog, regions) = store.catalog()?;
        export::settle_due_exports(&store)?;
        Ok(LocalService {
            store,
            account,
            regions,
            catalog,
            account_created,
            transition_delay: None,
            export_dir: None,
        })
    }

    /// Overrides the store's transition delay for the work this service starts.
    pub fn with_transition_delay(mut self, delay: Option<Duration>) -> LocalService {
        self.transition_delay = delay;
        self
    }

    /// Lets ExportImages write into `dir`, each bucket a folder of it.
    pub fn with_export_dir(mut self, dir: Option<PathBuf>) -> LocalService {
        self.export_dir = dir;
        self
    }

    /// Runs `command` as a dry run when `dry_run` is set (the API's `DryRun`): every check
    /// runs, in the same transactions and order as for the real call, so a failing one
    /// answers with its code; then every write is rolled back (see [`Store::rehearse`]):
    /// nothing changes, not even an injected fault, which the dry run meets as the real call
    /// would (a pending throttle refuses it) but leaves for the real call.
    pub fn dry_run_if<T>(&self, dry_run: bool, command: impl FnOnce() -> Result<T>) -> Result<T> {
        if dry_run {
            self.store.rehearse(command)
        } else {
            command()
        }
    }

    /// Runs the command of a request that may be a dry run (its `DryRun`, as the filesystem's
    /// JSON commands and the API send it), through [`LocalService::dry_run_if`]; a dry run
    /// answers with nothing (no IDs: nothing was made).
    fn unless_dry_run<T: Default>(
        &self,
        dry_run: Option<bool>,
        command: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let dry_run = dry_run.unwrap_or(false);
        let made = self.dry_run_if(dry_run, command)?;
        Ok(if dry_run { T::default() } else { made })
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

impl ImageService for LocalService {
    fn changes(&self, since: Option<ChangeCursor>) -> Result<Option<Changes>> {
        // A mount polls here: exports whose starter exited are put in place by it.
        export::settle_due_exports(&self.store)?;
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
        import::import_os(self, region)
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
        self.unless_dry_run(spec.dry_run, || {
            instances::run_instances(self, region, kind, image, spec)
        })
    }

    fn create_image(
        &self,
        region: &str,
        instance: &InstanceId,
        spec: &CreateImageSpec,
    ) -> Result<Option<ImageId>> {
        self.unless_dry_run(spec.dry_run, || {
            images::create_image(self, region, instance, spec).map(Some)
        })
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

    fn modify_image(&self, region: &str, image: &ImageId, changes: &ImageChanges) -> Result<()> {
        images::modify_image(self, region, image, changes)
    }

    fn image_from_family(&self, region: &str, family: &str) -> Result<Option<Image>> {
        families::image_from_family(self, region, family)
    }

    fn families(&self, region: &str) -> Result<Vec<(String, ImageId)>> {
        families::families(self, region)
    }

    fn export_images(&self, region: &str, spec: &ExportSpec) -> Result<Option<ExportTask>> {
        self.unless_dry_run(spec.dry_run, || {
            export::export_images(self, region, spec).map(Some)
        })
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
        copy: &CopySpec,
    ) -> Result<Vec<(String, ImageId)>> {
        self.unless_dry_run(copy.dry_run, || {
            let name = copy.image_name.as_deref();
            copies::sync_images(self, region, kind, image, &copy.destination_regions, name)
        })
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
        import::import_image(self, region, spec, caller)
    }

    fn set_tags(&self, resource: &TaggedResource, tags: &[Tag]) -> Result<()> {
        tags::set_tags(self, resource, tags)
    }

    fn tag_resources(&self, resources: &[TaggedResource], tags: &[Tag]) -> Result<()> {
        tags::tag_resources(self, resources, tags)
    }

    fn untag_resources(&self, resources: &[TaggedResource], keys: &[String]) -> Result<()> {
        tags::untag_resources(self, resources, keys)
    }

    fn modify_resource_tags(
        &self,
        resource: &TaggedResource,
        replace: &[Tag],
        delete: &[String],
    ) -> Result<()> {
        tags::modify_resource_tags(self, resource, replace, delete)
    }

    fn resource_tags(
        &self,
        resources: &[TaggedResource],
    ) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        tags::resource_tags(self, resources)
    }

    fn tagged_resources(&self) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        tags::tagged_resources(self)
    }
}
