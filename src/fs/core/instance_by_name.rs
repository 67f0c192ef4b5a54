//! `regions/<r>/by-name/instances/`: a symlink named after each instance, to its directory.
//! Beside the image kinds' link directories rather than inside `instances/`, so that
//! `instances/` holds instances only (scripts go through it with `instances/*`).
//!
//! Named as images' links are (`by_name`): a name several instances of the region share, or
//! one that cannot be a file name, becomes `<name>.<InstanceId>` with `/` and NUL replaced
//! by `_` (`instance.<InstanceId>` when nothing is left). A region's instances are few next
//! to its images: the links are computed from the region's instances on every read, so
//! launches and terminations show at once.

use std::collections::{HashMap, HashSet};

use super::by_name::{suffixed_name, usable_link_name};
use super::{no_such, Attr, DirEntry, ImageFs, Invalidation};
use crate::error::Result;
use crate::fs::inode::Node;
use crate::model::{InstanceEntry, InstanceId};

/// The name of the directory of instances' links in `by-name/`.
pub(super) const DIR_NAME: &str = "instances";

/// `<name>.<InstanceId>` (see the module's documentation).
fn suffixed_link(e: &InstanceEntry) -> String {
    suffixed_name(&e.instance_name, "instance", e.instance_id.as_str())
}

/// Where the link to instance `id` points, from `by-name/instances/`.
fn link_text(id: &InstanceId) -> String {
    format!("../../instances/{id}")
}

/// Each instance's link in `by-name/instances/`: its name when no other instance carries it
/// and it can be a file name, else its suffixed form. A plain name equal to another
/// instance's suffixed link is suffixed too, so no two links share a name.
fn link_names(entries: &[InstanceEntry]) -> Vec<(String, &InstanceEntry)> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        *count.entry(e.instance_name.as_str()).or_default() += 1;
    }
    let needs_suffix = |e: &InstanceEntry| {
        !usable_link_name(&e.instance_name) || count[e.instance_name.as_str()] != 1
    };
    let taken: HashSet<String> = entries
        .iter()
        .filter(|e| needs_suffix(e))
        .map(suffixed_link)
        .collect();
    entries
        .iter()
        .map(|e| {
            let link = if needs_suffix(e) || taken.contains(&e.instance_name) {
                suffixed_link(e)
            } else {
                e.instance_name.clone()
            };
            (link, e)
        })
        .collect()
}

impl ImageFs {
    fn instance_link_attr(&self, r: u8, e: &InstanceEntry) -> Attr {
        let node = Node::InstanceNameLink(r, e.instance_id.number());
        let size = link_text(&e.instance_id).len() as u64;
        self.attr(node, size, Self::created(&e.created_time))
    }

    /// The links of `by-name/instances/`.
    pub(super) fn list_instance_links(&self, r: u8) -> Result<Vec<DirEntry>> {
        let entries = self.service.list_instances(self.region_name(r)?)?;
        Ok(link_names(&entries)
            .into_iter()
            .map(|(name, e)| DirEntry {
                name,
                attr: self.instance_link_attr(r, e),
                content: None,
            })
            .collect())
    }

    /// The link `name` of `by-name/instances/`, if there is one.
    pub(super) fn lookup_instance_link(&self, r: u8, name: &str) -> Result<Option<Attr>> {
        let entries = self.service.list_instances(self.region_name(r)?)?;
        Ok(link_names(&entries)
            .into_iter()
            .find(|(link, _)| link == name)
            .map(|(_, e)| self.instance_link_attr(r, e)))
    }

    /// The attributes of the link to instance `n`, from the instance.
    pub(super) fn instance_name_link_attr(&self, node: Node, r: u8, n: u64) -> Result<Attr> {
        let (region, id) = self.instance_link_target(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        Ok(self.attr(
            node,
            link_text(&id).len() as u64,
            Self::created(&instance.created_time),
        ))
    }

    /// Where the link to instance `n` points: the instance's directory.
    pub(super) fn instance_link_text(&self, r: u8, n: u64) -> Result<String> {
        let (region, id) = self.instance_link_target(r, n)?;
        self.service.instance(&region, &id)?;
        Ok(link_text(&id))
    }

    fn instance_link_target(&self, r: u8, n: u64) -> Result<(String, InstanceId)> {
        let region = self.region_name(r)?.to_string();
        let id = InstanceId::from_number(n).ok_or_else(|| no_such(format!("instance #{n}")))?;
        Ok((region, id))
    }

    /// What the kernel must drop of `by-name/instances/` when instance `id` changed (was
    /// launched or terminated): the listing, and the links of every instance sharing its
    /// name (one that was alone may now be suffixed, or the other way round). A link the
    /// kernel still holds otherwise is trusted for a second only, as images' links are.
    pub(super) fn instance_links_changed(
        &self,
        r: u8,
        region: &str,
        id: &InstanceId,
        out: &mut Vec<Invalidation>,
    ) {
        let parent = Node::InstancesByName(r).ino();
        out.push(Invalidation::Inode(parent));
        let Ok(name) = self.service.instance(region, id).map(|i| i.instance_name) else {
            return;
        };
        let mut names = vec![name.clone()];
        names.push(suffixed_name(&name, "instance", id.as_str()));
        if let Ok(entries) = self.service.list_instances(region) {
            names.extend(
                entries
                    .iter()
                    .filter(|e| e.instance_name == name)
                    .map(suffixed_link),
            );
        }
        out.extend(
            names
                .into_iter()
                .map(|name| Invalidation::Entry { parent, name }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, name: &str) -> InstanceEntry {
        InstanceEntry {
            instance_id: InstanceId::parse(id).expect("an instance ID"),
            instance_name: name.to_string(),
            created_time: "2026-12-01T00:00:00Z".to_string(),
        }
    }

    /// docs/SEMANTICS.md: "a name several instances of the region share, or one that cannot
    /// be a file name (empty, `.`, `..`, containing `/` or NUL), becomes
    /// `<name>.<InstanceId>`".
    #[test]
    fn shared_and_unusable_names_carry_the_instance_id() {
        let entries = [
            entry("ins-00000001", "web"),
            entry("ins-00000002", "db"),
            entry("ins-00000003", "db"),
            entry("ins-00000004", ""),
            entry("ins-00000005", "a/b"),
            entry("ins-00000006", "db.ins-00000002"),
            entry("ins-00000007", ".."),
        ];
        let links: Vec<String> = link_names(&entries).into_iter().map(|(l, _)| l).collect();
        assert_eq!(
            links,
            [
                "web",
                "db.ins-00000002",
                "db.ins-00000003",
                "instance.ins-00000004",
                "a_b.ins-00000005",
                "db.ins-00000002.ins-00000006",
                "instance.ins-00000007",
            ]
        );
    }
}
