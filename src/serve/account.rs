//! The account: sts GetCallerIdentity and DescribeImageQuota.

use super::Context;
use crate::error::Result;
use crate::model::api::{
    DescribeImageQuotaRequest, DescribeImageQuotaResponse, GetCallerIdentityRequest,
    GetCallerIdentityResponse,
};
use crate::model::AccountId;
use crate::service::ImageService;

/// Who the request's key pair belongs to: always a root account here.
pub(super) fn get_caller_identity(
    account: &AccountId,
    _request: GetCallerIdentityRequest,
) -> Result<GetCallerIdentityResponse> {
    let id = account.as_str();
    Ok(GetCallerIdentityResponse {
        account_id: Some(id.to_string()),
        user_id: id.to_string(),
        principal_id: id.to_string(),
        r#type: "RootAccount".to_string(),
        arn: format!("qcs::cam::uin/{id}:uin/{id}"),
    })
}

/// How many custom images the account may hold in the region.
pub(super) fn describe_image_quota(
    cx: &Context,
    _request: DescribeImageQuotaRequest,
) -> Result<DescribeImageQuotaResponse> {
    let region = cx.region()?;
    Ok(DescribeImageQuotaResponse {
        image_num_quota: cx.service.quota(region)?.custom_image_quota,
    })
}
