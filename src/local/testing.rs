//! What the service's tests share: a temporary store with two accounts, and images and
//! instances made through the API. The rules are tested one test each, on such a store, in
//! the module of the rule.

use std::sync::Arc;
use std::time::Duration;

pub(crate) use crate::error::Result;
pub(crate) use crate::model::{
    AccountId, ChargeType, CreateImageSpec, ImageChanges, ImageEntry, ImageId, ImageKind,
    ImageState, InstanceId, LaunchSpec,
};
pub(crate) use crate::service::ImageService;
pub(crate) use std::collections::HashMap;

use super::store::Store;
use super::LocalService;

pub(crate) struct World {
    _dir: tempfile::TempDir,
    pub(crate) store: Arc<Store>,
}

pub(crate) const OWNER: &str = "100000000001";
pub(crate) const FRIEND: &str = "100000000002";
pub(crate) const GZ: &str = "ap-guangzhou";

pub(crate) fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("s.db"), None).unwrap());
    store
        .add_account(&AccountId::parse(FRIEND).unwrap())
        .unwrap();
    World { _dir: dir, store }
}

impl World {
    pub(crate) fn service(&self, account: &str, delay_ms: u64) -> LocalService {
        LocalService::open(self.store.clone(), Some(AccountId::parse(account).unwrap()))
            .unwrap()
            .with_transition_delay(Some(Duration::from_millis(delay_ms)))
    }
}

pub(crate) fn id(s: &str) -> ImageId {
    ImageId::parse(s).unwrap()
}

pub(crate) fn account(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

/// One instance of CentOS 7.6 in `region`.
pub(crate) fn launch_one(service: &LocalService, region: &str) -> Vec<InstanceId> {
    service
        .run_instances(
            region,
            ImageKind::Public,
            &id("img-9qabwvbn"),
            &LaunchSpec::default(),
        )
        .unwrap()
}

/// A NORMAL custom image named `name` in `region`, made through the API.
pub(crate) fn custom(service: &LocalService, region: &str, name: &str) -> ImageId {
    let instances = launch_one(service, region);
    let spec = CreateImageSpec {
        image_name: name.into(),
        ..CreateImageSpec::default()
    };
    service
        .create_image(region, &instances[0], &spec)
        .unwrap()
        .expect("not a dry run")
}

pub(crate) fn code<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.unwrap_err().code().to_string()
}
