//! Copies of an image in other regions: SyncImages.

use super::Context;
use crate::error::{Code, Error, Result};
use crate::model::api::{SyncImage, SyncImagesRequest, SyncImagesResponse};
use crate::model::ImageId;
use crate::service::ImageService;

/// One image per call (many destinations), as the API documents; the answer always lists the
/// copies.
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
    let copies = cx
        .service
        .sync_images(region, kind, &image, &request.destination_regions)?;
    Ok(SyncImagesResponse {
        image_set: copies
            .into_iter()
            .map(|(region, image_id)| SyncImage { image_id, region })
            .collect(),
    })
}
