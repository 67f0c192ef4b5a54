//! Tags of images and instances through the cloud's tag service (API version 2018-08-13, at
//! tag.tencentcloudapi.com), with the request and answer types `imagefs serve` answers.

use super::TencentService;
use crate::error::{Error, Result};
use crate::model::api::tags::{
    FailedResource, GetResourcesRequest, ModifyResourceTagsRequest, TagKeyObject,
    TagResourcesRequest, UnTagResourcesRequest,
};
use crate::model::tags::{ResourceName, TaggedResource};
use crate::model::Tag;

/// The most resources (and tags) one TagResources, UnTagResources or GetResources names.
const PER_REQUEST: usize = 10;
/// The largest page GetResources gives.
const PAGE: i64 = 200;

impl TencentService {
    fn names(&self, resources: &[TaggedResource]) -> Vec<String> {
        resources.iter().map(|r| r.name(&self.account)).collect()
    }

    /// The resources of an answer that are images or instances (of any account's naming).
    fn read_mappings(
        mappings: Vec<crate::model::api::tags::ResourceTagMapping>,
    ) -> Vec<(TaggedResource, Vec<Tag>)> {
        mappings
            .into_iter()
            .filter_map(|m| {
                let name = ResourceName::parse(&m.resource).ok()?;
                Some((name.resource, m.tags.iter().map(Tag::from).collect()))
            })
            .collect()
    }

    pub(super) fn tag(&self, resources: &[TaggedResource], tags: &[Tag]) -> Result<()> {
        for (resources, tags) in resources
            .chunks(PER_REQUEST)
            .flat_map(|r| tags.chunks(PER_REQUEST).map(move |t| (r, t)))
        {
            let request = TagResourcesRequest {
                resource_list: self.names(resources),
                tags: tags.iter().map(Into::into).collect(),
            };
            let answer = self.client.invoke("", &request);
            self.refresh();
            failed(answer?.failed_resources)?;
        }
        Ok(())
    }

    pub(super) fn untag(&self, resources: &[TaggedResource], keys: &[String]) -> Result<()> {
        for (resources, keys) in resources
            .chunks(PER_REQUEST)
            .flat_map(|r| keys.chunks(PER_REQUEST).map(move |k| (r, k)))
        {
            let request = UnTagResourcesRequest {
                resource_list: self.names(resources),
                tag_keys: keys.to_vec(),
            };
            let answer = self.client.invoke("", &request);
            self.refresh();
            failed(answer?.failed_resources)?;
        }
        Ok(())
    }

    /// ModifyResourceTags: one request, so the cloud makes the change whole (a list it would
    /// refuse empty is left out; nothing to change sends nothing).
    pub(super) fn modify(
        &self,
        resource: &TaggedResource,
        replace: &[Tag],
        delete: &[String],
    ) -> Result<()> {
        if replace.is_empty() && delete.is_empty() {
            return Ok(());
        }
        let request = ModifyResourceTagsRequest {
            resource: resource.name(&self.account),
            replace_tags: (!replace.is_empty()).then(|| replace.iter().map(Into::into).collect()),
            delete_tags: (!delete.is_empty()).then(|| {
                delete
                    .iter()
                    .map(|key| TagKeyObject {
                        tag_key: key.clone(),
                    })
                    .collect()
            }),
        };
        let answer = self.client.invoke("", &request);
        self.refresh();
        answer.map(|_| ())
    }

    pub(super) fn tags_of(
        &self,
        resources: &[TaggedResource],
    ) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        let mut found = Vec::new();
        for chunk in resources.chunks(PER_REQUEST) {
            let request = GetResourcesRequest {
                resource_list: Some(self.names(chunk)),
                ..GetResourcesRequest::default()
            };
            let answer = self.client.invoke("", &request)?;
            found.extend(Self::read_mappings(answer.resource_tag_mapping_list));
        }
        Ok(found)
    }

    pub(super) fn all_tagged(&self) -> Result<Vec<(TaggedResource, Vec<Tag>)>> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = GetResourcesRequest {
                pagination_token: token.clone(),
                max_results: Some(PAGE),
                ..GetResourcesRequest::default()
            };
            let answer = self.client.invoke("", &request)?;
            let page_was_empty = answer.resource_tag_mapping_list.is_empty();
            found.extend(Self::read_mappings(answer.resource_tag_mapping_list));
            if answer.pagination_token.is_empty() || page_was_empty {
                break;
            }
            token = Some(answer.pagination_token);
        }
        found.retain(|(_, tags)| !tags.is_empty());
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// The `tags` file: the keys the resource holds and `tags` lacks are removed, then `tags`
    /// bound.
    pub(super) fn replace_tags(&self, resource: &TaggedResource, tags: &[Tag]) -> Result<()> {
        let held = self
            .tags_of(std::slice::from_ref(resource))?
            .into_iter()
            .flat_map(|(_, tags)| tags)
            .collect::<Vec<Tag>>();
        let gone: Vec<String> = held
            .iter()
            .filter(|t| !tags.iter().any(|n| n.key == t.key))
            .map(|t| t.key.clone())
            .collect();
        let resources = std::slice::from_ref(resource);
        if !gone.is_empty() {
            self.untag(resources, &gone)?;
        }
        if !tags.is_empty() {
            self.tag(resources, tags)?;
        }
        Ok(())
    }
}

/// A write the cloud answered with failed resources fails with the first one's code.
fn failed(failures: Vec<FailedResource>) -> Result<()> {
    match failures.into_iter().next() {
        None => Ok(()),
        Some(f) => Err(Error::from_cloud(
            f.code,
            format!("{}: {}", f.resource, f.message),
        )),
    }
}
