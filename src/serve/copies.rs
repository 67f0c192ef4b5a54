//! Copies of an image in other regions: SyncImages.

use super::Context;
use crate::error::{Code, Error, Result};
use crate::model::api::{SyncImage, SyncImagesRequest, SyncImagesResponse};
use crate::model::ImageId;
use crate::service::ImageService;

/// One image per call (many destinations), as the API documents. The answer lists the copies
/// when `ImageSetRequired` asks for them (an empty `ImageSet` otherwise, as the API's example
/// shows); a dry run answers with its `RequestId` only.
pub(super) fn sync_images(cx: &Context, request: SyncImagesRequest) -> Result<SyncImagesResponse> {
    let region = cx.region()?;
    let [id] = request.image_ids.as_slice() else {
        return Err(Error::new(
            Code::InvalidParameterValueLimitExceeded,
            "SyncImages copies one image per request: give exactly one ImageIds value",
        ));
    };
    let image = ImageId::parse(id)?;
    let kind = cx.kind_of(region, &image)?;
    let copies = cx.service.sync_images(region, kind, &image, &request)?;
    let dry_run = request.dry_run.unwrap_or(false);
    let image_set = match (dry_run, request.image_set_required.unwrap_or(false)) {
        (true, _) => None,
        (false, false) => Some(Vec::new()),
        (false, true) => Some(
            copies
                .into_iter()
                .map(|(region, image_id)| SyncImage { image_id, region })
                .collect(),
        ),
    };
    Ok(SyncImagesResponse { image_set })
}
