//! `imagefs serve`: the local emulator over Tencent Cloud's CVM API 2017-03-12, so the official
//! SDKs, tccli and the tencentcloud backend can run against it. Requests are authenticated as
//! the cloud does (TC3-HMAC-SHA256, or the older HmacSHA1 and HmacSHA256), with the key pairs
//! of the store's accounts; every action runs on the same backend code as the filesystem.
//!
//! `http.rs` answers HTTP requests (the envelope, request IDs), `auth.rs` checks their
//! signatures (`signatures.rs`) and reads their parameters (`form.rs`, strictly into the
//! request types), and `dispatch` finds
//! the action in `ACTIONS`: one short function per action, in a file per resource, each taking
//! its request and giving its answer as the types of [`crate::model::api`], which the
//! tencentcloud backend sends and reads.

mod account;
mod auth;
mod copies;
mod exports;
mod form;
mod http;
mod images;
mod imports;
mod instances;
mod params;
mod regions;
mod sharing;
mod signatures;
mod tags;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Code, Error, Result};
use crate::local::store::Store;
use crate::local::LocalService;
use crate::model::api::tags::TAG_VERSION;
use crate::model::api::{self, Action, CVM_VERSION};
use crate::model::{ImageId, ImageKind};
use crate::service::ImageService;

use form::Params;
pub use http::{serve, tls_config};

pub struct ServeSettings {
    pub transition_delay: Option<Duration>,
    /// ImportImage reads local files only under this directory; without it, imports are refused.
    pub import_dir: Option<PathBuf>,
    /// ExportImages writes into this directory, each bucket a folder of it; without it,
    /// exports are refused.
    pub export_dir: Option<PathBuf>,
}

/// What an action works with: the emulator as the request's account, and the request's region.
struct Context<'a> {
    service: LocalService,
    /// `X-TC-Region`, as sent.
    region: &'a str,
    settings: &'a ServeSettings,
}

impl Context<'_> {
    /// The request's region, which must be given and exist.
    fn region(&self) -> Result<&str> {
        let region = self.region;
        if region.is_empty() {
            return Err(Error::new(
                Code::MissingParameter,
                "the X-TC-Region header is required",
            ));
        }
        self.service
            .regions()?
            .iter()
            .find(|r| r.region == region)
            .map(|_| region)
            .ok_or_else(|| {
                Error::new(
                    Code::InvalidRegionNotFound,
                    format!("region `{region}` does not exist"),
                )
            })
    }

    /// The kind under which the account sees an image in a region.
    fn kind_of(&self, region: &str, image: &ImageId) -> Result<ImageKind> {
        for kind in ImageKind::ALL {
            if self.service.image(region, kind, image).is_ok() {
                return Ok(kind);
            }
        }
        Err(Error::new(
            Code::InvalidImageIdNotFound,
            format!("no image {image} in {region}"),
        ))
    }
}

/// An action: reads its request from the parameters and answers with the response's JSON.
type Handler = fn(&Context<'_>, &Params) -> Result<Value>;

/// The CVM actions served, by name (the `X-TC-Action` header).
const ACTIONS: &[(&str, Handler)] = &[
    (api::DescribeRegionsRequest::NAME, |cx, p| {
        run(cx, p, regions::describe_regions)
    }),
    (api::DescribeZonesRequest::NAME, |cx, p| {
        run(cx, p, regions::describe_zones)
    }),
    (api::DescribeImagesRequest::NAME, |cx, p| {
        run(cx, p, images::describe_images)
    }),
    (api::DescribeImageQuotaRequest::NAME, |cx, p| {
        run(cx, p, account::describe_image_quota)
    }),
    (api::DescribeImportImageOsRequest::NAME, |cx, p| {
        run(cx, p, imports::describe_import_image_os)
    }),
    (api::DescribeImageSharePermissionRequest::NAME, |cx, p| {
        run(cx, p, sharing::describe_image_share_permission)
    }),
    (api::ModifyImageSharePermissionRequest::NAME, |cx, p| {
        run(cx, p, sharing::modify_image_share_permission)
    }),
    (api::ModifyImageAttributeRequest::NAME, |cx, p| {
        run(cx, p, images::modify_image_attribute)
    }),
    (api::SyncImagesRequest::NAME, |cx, p| {
        run(cx, p, copies::sync_images)
    }),
    (api::DeleteImagesRequest::NAME, |cx, p| {
        run(cx, p, images::delete_images)
    }),
    (api::CreateImageRequest::NAME, |cx, p| {
        run(cx, p, images::create_image)
    }),
    (api::RunInstancesRequest::NAME, |cx, p| {
        run(cx, p, instances::run_instances)
    }),
    (api::DescribeInstancesRequest::NAME, |cx, p| {
        run(cx, p, instances::describe_instances)
    }),
    (api::ResetInstanceRequest::NAME, |cx, p| {
        run(cx, p, instances::reset_instance)
    }),
    (api::TerminateInstancesRequest::NAME, |cx, p| {
        run(cx, p, instances::terminate_instances)
    }),
    (api::DescribeInstancesStatusRequest::NAME, |cx, p| {
        run(cx, p, instances::describe_instances_status)
    }),
    (api::ImportImageRequest::NAME, |cx, p| {
        run(cx, p, imports::import_image)
    }),
    (api::ExportImagesRequest::NAME, |cx, p| {
        run(cx, p, exports::export_images)
    }),
    (api::DescribeImageFromFamilyRequest::NAME, |cx, p| {
        run(cx, p, images::describe_image_from_family)
    }),
];

/// The tag service's actions (version 2018-08-13), by name.
const TAG_ACTIONS: &[(&str, Handler)] = &[
    (api::tags::TagResourcesRequest::NAME, |cx, p| {
        run(cx, p, tags::tag_resources)
    }),
    (api::tags::UnTagResourcesRequest::NAME, |cx, p| {
        run(cx, p, tags::untag_resources)
    }),
    (api::tags::ModifyResourceTagsRequest::NAME, |cx, p| {
        run(cx, p, tags::modify_resource_tags)
    }),
    (api::tags::GetResourcesRequest::NAME, |cx, p| {
        run(cx, p, tags::get_resources)
    }),
    (api::tags::GetTagsRequest::NAME, |cx, p| {
        run(cx, p, tags::get_tags)
    }),
    (api::tags::GetTagKeysRequest::NAME, |cx, p| {
        run(cx, p, tags::get_tag_keys)
    }),
    (
        api::tags::DescribeResourceTagsByResourceIdsRequest::NAME,
        |cx, p| run(cx, p, tags::describe_resource_tags_by_resource_ids),
    ),
    (api::tags::DescribeResourceTagsRequest::NAME, |cx, p| {
        run(cx, p, tags::describe_resource_tags)
    }),
];

/// Runs a CVM action on the request's parameters.
fn run<A: Action>(
    cx: &Context<'_>,
    params: &Params,
    action: fn(&Context<'_>, A) -> Result<A::Response>,
) -> Result<Value> {
    answer(params, |request| action(cx, request))
}

/// Reads an action's request from the parameters, runs it, and gives its answer's JSON.
fn answer<A: Action>(
    params: &Params,
    action: impl FnOnce(A) -> Result<A::Response>,
) -> Result<Value> {
    // Read strictly: the refusal names the member that is unknown, of the wrong type,
    // missing or not emulated, before the action runs.
    let request = params.read::<A>()?;
    serde_json::to_value(action(request)?)
        .map_err(|e| Error::internal(format!("{}: cannot encode the answer: {e}", A::NAME)))
}

/// One action, as the account of the request.
fn dispatch(
    store: &Arc<Store>,
    settings: &ServeSettings,
    request: &auth::ApiRequest,
) -> Result<Value> {
    // Routed by action and version, whatever service the client named in its credential scope
    // (the Node.js SDK names the endpoint's first label: `127` for 127.0.0.1).
    if request.action == api::GetCallerIdentityRequest::NAME
        && request.version == api::GetCallerIdentityRequest::VERSION
    {
        return answer(&request.params, |r| {
            account::get_caller_identity(&request.account, r)
        });
    }
    // The tag service's actions by their version (sts's GetCallerIdentity, above, shares it).
    let actions = match request.version.as_str() {
        CVM_VERSION => ACTIONS,
        TAG_VERSION => TAG_ACTIONS,
        other => {
            return Err(Error::new(
                Code::NoSuchVersion,
                format!("version `{other}` is not 2017-03-12 (CVM) or 2018-08-13 (tag)"),
            ))
        }
    };
    let (_, action) = actions
        .iter()
        .find(|(name, _)| *name == request.action)
        .ok_or_else(|| {
            Error::new(
                Code::InvalidAction,
                format!("the action `{}` is not served by imagefs", request.action),
            )
        })?;
    let service = LocalService::open(store.clone(), Some(request.account.clone()))?
        .with_transition_delay(settings.transition_delay)
        .with_export_dir(settings.export_dir.clone());
    let cx = Context {
        service,
        region: &request.region,
        settings,
    };
    action(&cx, &request.params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_served_once() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|(name, _)| *name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "an action is listed twice");
        assert_eq!(count, 19);
        assert!(names.contains(&"ImportImage"));
    }

    #[test]
    fn every_tag_action_is_served_once() {
        let mut names: Vec<&str> = TAG_ACTIONS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TAG_ACTIONS.len(), "an action is listed twice");
        assert_eq!(names.len(), 8);
        assert!(names.contains(&"GetResources"));
        assert!(names.contains(&"ModifyResourceTags"));
    }
}
