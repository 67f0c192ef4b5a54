//! Sharing custom images with other accounts: ModifyImageSharePermission and
//! DescribeImageSharePermission.

use super::{params, Context};
use crate::error::{Code, Error, Result};
use crate::model::api::{
    DescribeImageSharePermissionRequest, DescribeImageSharePermissionResponse,
    ModifyImageSharePermissionRequest, ModifyImageSharePermissionResponse, SharePermission,
};
use crate::model::{AccountId, ImageId};
use crate::service::ImageService;

pub(super) fn describe_image_share_permission(
    cx: &Context,
    request: DescribeImageSharePermissionRequest,
) -> Result<DescribeImageSharePermissionResponse> {
    let region = cx.region()?;
    let image = ImageId::parse(&request.image_id)?;
    let shares = cx.service.share_permissions(region, &image)?;
    Ok(DescribeImageSharePermissionResponse {
        share_permission_set: shares
            .into_iter()
            .map(|(account_id, created_time)| SharePermission {
                created_time,
                account_id,
            })
            .collect(),
    })
}

/// SHARE or CANCEL: all the accounts or none.
pub(super) fn modify_image_share_permission(
    cx: &Context,
    request: ModifyImageSharePermissionRequest,
) -> Result<ModifyImageSharePermissionResponse> {
    let region = cx.region()?;
    let image = ImageId::parse(&request.image_id)?;
    let accounts = params::ids(&request.account_ids, AccountId::parse)?;
    match request.permission.as_str() {
        "SHARE" => cx.service.share_image(region, &image, &accounts)?,
        "CANCEL" => cx.service.unshare_image(region, &image, &accounts)?,
        other => {
            return Err(Error::new(
                Code::InvalidParameterValue,
                format!("Permission `{other}` is not SHARE or CANCEL"),
            ))
        }
    }
    Ok(ModifyImageSharePermissionResponse {})
}
