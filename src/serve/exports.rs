//! ExportImages into the folders (buckets) of `--export-dir`.

use super::Context;
use crate::error::Result;
use crate::model::api::{ExportImagesRequest, ExportImagesResponse};
use crate::service::ImageService;

pub(super) fn export_images(
    cx: &Context,
    request: ExportImagesRequest,
) -> Result<ExportImagesResponse> {
    let region = cx.region()?;
    Ok(match cx.service.export_images(region, &request)? {
        Some(task) => ExportImagesResponse {
            task_id: Some(task.task_id),
            cos_paths: Some(task.cos_paths),
        },
        None => ExportImagesResponse::default(),
    })
}
