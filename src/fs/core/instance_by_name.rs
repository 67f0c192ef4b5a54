//! `regions/<r>/by-name/instances/`: each instance found by its name. Beside the image kinds'
//! link directories rather than inside `instances/`, so that `instances/` holds instances
//! only (scripts go through it with `instances/*`).
//!
//! Instance names need not be unique. A name one instance carries is a symlink to its
//! directory; a name several carry is a directory holding one symlink per instance, named
//! after its InstanceId. A name that cannot be a file name becomes a link
//! `<name>.<InstanceId>` as images' links do (`by_name`), and so does a name equal to such a
//! link. A region's instances are few next to its images: the entries are computed from the
//! region's instances on every read, so launches and terminations show at once.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::by_name::{suffixed_name, usable_link_name};
use super::{no_such, Attr, DirEntry, ImageFs, Invalidation};
use crate::error::Result;
use crate::fs::inode::Node;
use crate::model::{InstanceEntry, InstanceId};

/// The name of the directory of instances' entries in `by-name/`.
pub(super) const DIR_NAME: &str = "instances";

/// An entry of `by-name/instances/`.
#[derive(Debug, PartialEq)]
enum NameEntry<'a> {
    /// A symlink to one instance's directory.
    Link(String, &'a InstanceEntry),
    /// The directory of a name several instances share, in InstanceId order.
    Dir(String, Vec<&'a InstanceEntry>),
}

impl NameEntry<'_> {
    fn name(&self) -> &str {
        match self {
            NameEntry::Link(name, _) | NameEntry::Dir(name, _) => name,
        }
    }
}

/// `<name>.<InstanceId>` (see the module's documentation).
fn suffixed_link(e: &InstanceEntry) -> String {
    suffixed_name(&e.instance_name, "instance", e.instance_id.as_str())
}

/// Where the link to instance `id` points, from `by-name/instances/` (`depth` 2) or from a
/// name's directory in it (`depth` 3).
fn link_text(id: &InstanceId, depth: usize) -> String {
    format!("{}instances/{id}", "../".repeat(depth))
}

/// The entries of `by-name/instances/` for a region's instances (in InstanceId order), in
/// the order of their first instance.
fn layout(entries: &[InstanceEntry]) -> Vec<NameEntry<'_>> {
    let suffixed: HashSet<String> = entries
        .iter()
        .filter(|e| !usable_link_name(&e.instance_name))
        .map(suffixed_link)
        .collect();
    let mut out: Vec<NameEntry> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        let name = e.instance_name.as_str();
        if !usable_link_name(name) || suffixed.contains(name) {
            out.push(NameEntry::Link(suffixed_link(e), e));
            continue;
        }
        match index.get(name).and_then(|&i| out.get_mut(i)) {
            Some(NameEntry::Dir(_, members)) => members.push(e),
            _ => {
                index.insert(name, out.len());
                out.push(NameEntry::Dir(name.to_string(), vec![e]));
            }
        }
    }
    out.into_iter()
        .map(|entry| match entry {
            NameEntry::Dir(name, members) if members.len() == 1 => {
                NameEntry::Link(name, members[0])
            }
            entry => entry,
        })
        .collect()
}

/// The instances of the directory of the name instance `n` carries, if its name is one.
fn dir_members(layout: Vec<NameEntry<'_>>, n: u64) -> Option<(String, Vec<&InstanceEntry>)> {
    layout.into_iter().find_map(|entry| match entry {
        NameEntry::Dir(name, members) if members.iter().any(|e| e.instance_id.number() == n) => {
            Some((name, members))
        }
        _ => None,
    })
}

impl ImageFs {
    fn instance_link_attr(&self, node: Node, id: &InstanceId, created: &str) -> Attr {
        let depth = if matches!(node, Node::InstanceNameDirLink(..)) {
            3
        } else {
            2
        };
        self.attr(
            node,
            link_text(id, depth).len() as u64,
            Self::created(created),
        )
    }

    fn name_entry_attr(&self, r: u8, entry: &NameEntry) -> Attr {
        match entry {
            NameEntry::Link(_, e) => self.instance_link_attr(
                Node::InstanceNameLink(r, e.instance_id.number()),
                &e.instance_id,
                &e.created_time,
            ),
            NameEntry::Dir(_, members) => self.name_dir_attr(r, members),
        }
    }

    /// A name's directory: named by its first instance, changed when its newest came.
    fn name_dir_attr(&self, r: u8, members: &[&InstanceEntry]) -> Attr {
        let first = members.first().map_or(0, |e| e.instance_id.number());
        let newest = members
            .iter()
            .map(|e| Self::created(&e.created_time))
            .max()
            .unwrap_or(self.mounted_at);
        self.attr(Node::InstanceNameDir(r, first), 0, newest)
    }

    fn region_instances(&self, r: u8) -> Result<Vec<InstanceEntry>> {
        self.service.list_instances(self.region_name(r)?)
    }

    /// The entries of `by-name/instances/`.
    pub(super) fn list_instance_links(&self, r: u8) -> Result<Vec<DirEntry>> {
        let entries = self.region_instances(r)?;
        Ok(layout(&entries)
            .iter()
            .map(|entry| DirEntry {
                name: entry.name().to_string(),
                attr: self.name_entry_attr(r, entry),
                content: None,
            })
            .collect())
    }

    /// The entry `name` of `by-name/instances/`, if there is one.
    pub(super) fn lookup_instance_link(&self, r: u8, name: &str) -> Result<Option<Attr>> {
        let entries = self.region_instances(r)?;
        Ok(layout(&entries)
            .iter()
            .find(|entry| entry.name() == name)
            .map(|entry| self.name_entry_attr(r, entry)))
    }

    /// The attributes of the directory of the name instance `n` carries, while several
    /// instances carry it.
    pub(super) fn instance_name_dir_attr(&self, node: Node, r: u8, n: u64) -> Result<Attr> {
        let entries = self.region_instances(r)?;
        let (_, members) =
            dir_members(layout(&entries), n).ok_or_else(|| no_such(self.path(node)))?;
        let attr = self.name_dir_attr(r, &members);
        Ok(Attr {
            ino: node.ino(),
            ..attr
        })
    }

    /// The links of the directory of the name instance `n` carries.
    pub(super) fn list_instance_name_dir(&self, r: u8, n: u64) -> Result<Vec<DirEntry>> {
        let entries = self.region_instances(r)?;
        let node = Node::InstanceNameDir(r, n);
        let (_, members) =
            dir_members(layout(&entries), n).ok_or_else(|| no_such(self.path(node)))?;
        Ok(members
            .into_iter()
            .map(|e| DirEntry {
                name: e.instance_id.to_string(),
                attr: self.instance_link_attr(
                    Node::InstanceNameDirLink(r, e.instance_id.number()),
                    &e.instance_id,
                    &e.created_time,
                ),
                content: None,
            })
            .collect())
    }

    /// The link `name` (an InstanceId) of the directory of the name instance `n` carries.
    pub(super) fn lookup_in_instance_name_dir(
        &self,
        r: u8,
        n: u64,
        name: &str,
    ) -> Result<Option<Attr>> {
        Ok(self
            .list_instance_name_dir(r, n)?
            .into_iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.attr))
    }

    /// The name of the directory instance `n`'s name is, for messages (its ID in brackets
    /// when the name cannot be read).
    pub(super) fn instance_name_dir_name(&self, r: u8, n: u64) -> String {
        let id = InstanceId::from_number(n);
        let name = match (self.region_name(r), &id) {
            (Ok(region), Some(id)) => self.service.instance(region, id).ok(),
            _ => None,
        };
        match (name, id) {
            (Some(instance), _) => instance.instance_name,
            (None, Some(id)) => format!("({id})"),
            (None, None) => format!("(instance #{n})"),
        }
    }

    /// The attributes of a link to instance `n` (`node`), from the instance.
    pub(super) fn instance_name_link_attr(&self, node: Node, r: u8, n: u64) -> Result<Attr> {
        let (region, id) = self.instance_link_target(r, n)?;
        let instance = self.service.instance(&region, &id)?;
        Ok(self.instance_link_attr(node, &id, &instance.created_time))
    }

    /// Where a link to instance `n` points: the instance's directory, from
    /// `by-name/instances/` or (`in_name_dir`) from a name's directory in it.
    pub(super) fn instance_link_text(&self, r: u8, n: u64, in_name_dir: bool) -> Result<String> {
        let (region, id) = self.instance_link_target(r, n)?;
        self.service.instance(&region, &id)?;
        Ok(link_text(&id, if in_name_dir { 3 } else { 2 }))
    }

    fn instance_link_target(&self, r: u8, n: u64) -> Result<(String, InstanceId)> {
        let region = self.region_name(r)?.to_string();
        let id = InstanceId::from_number(n).ok_or_else(|| no_such(format!("instance #{n}")))?;
        Ok((region, id))
    }

    /// What the kernel must drop of `by-name/instances/` when instance `id` changed (was
    /// launched or terminated): the listing; the entries the instance's name may be (a link
    /// or a directory, either way round: a lookup must not find a link that has become a
    /// directory); and the directories of that name and their link to it. An instance that
    /// is gone has no name left to read: then every name of the region is dropped (there
    /// are few).
    pub(super) fn instance_links_changed(
        &self,
        r: u8,
        region: &str,
        id: &InstanceId,
        out: &mut Vec<Invalidation>,
    ) {
        let parent = Node::InstancesByName(r).ino();
        out.push(Invalidation::Inode(parent));
        let changed_name = self
            .service
            .instance(region, id)
            .ok()
            .map(|i| i.instance_name);
        let entries = self.service.list_instances(region).unwrap_or_default();
        let mut names = BTreeSet::new();
        let mut dirs = BTreeSet::from([id.number()]);
        if let Some(name) = &changed_name {
            names.insert(name.clone());
            names.insert(suffixed_name(name, "instance", id.as_str()));
        }
        let concerned = entries
            .iter()
            .filter(|e| changed_name.as_ref().is_none_or(|n| *n == e.instance_name));
        for e in concerned {
            names.insert(e.instance_name.clone());
            names.insert(suffixed_link(e));
            dirs.insert(e.instance_id.number());
        }
        for n in dirs {
            let dir = Node::InstanceNameDir(r, n).ino();
            out.push(Invalidation::Inode(dir));
            out.push(Invalidation::Entry {
                parent: dir,
                name: id.to_string(),
            });
        }
        out.extend(
            names
                .into_iter()
                .filter(|name| usable_link_name(name))
                .map(|name| Invalidation::Entry { parent, name }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{caller, two_mounts, walk};
    use super::*;
    use crate::fs::core::EntryKind;

    fn entry(id: &str, name: &str) -> InstanceEntry {
        InstanceEntry {
            instance_id: InstanceId::parse(id).expect("an instance ID"),
            instance_name: name.to_string(),
            created_time: "2026-12-01T00:00:00Z".to_string(),
        }
    }

    /// What `layout` makes of entries: `name -> ID` for a link, `name/ [IDs]` for a directory.
    fn shown(entries: &[InstanceEntry]) -> Vec<String> {
        layout(entries)
            .iter()
            .map(|entry| match entry {
                NameEntry::Link(name, e) => format!("{name} -> {}", e.instance_id),
                NameEntry::Dir(name, members) => {
                    let ids: Vec<&str> = members.iter().map(|e| e.instance_id.as_str()).collect();
                    format!("{name}/ {}", ids.join(" "))
                }
            })
            .collect()
    }

    /// docs/SEMANTICS.md: "`regions/<r>/by-name/instances/<name>` | 0777 symlink | to
    /// `../../instances/<InstanceId>`, named after `InstanceName`, when one instance of the
    /// region carries the name. A name that cannot be a file name (empty, `.`, `..`,
    /// containing `/` or NUL), or that equals such a link's name, becomes a link
    /// `<name>.<InstanceId>` as for images (`instance.<InstanceId>` if nothing is left)", and
    /// "`regions/<r>/by-name/instances/<name>/` | 0555 | when several instances carry the
    /// name: one symlink per instance, named after its InstanceId, to
    /// `../../../instances/<InstanceId>`"; "Instances launched without a name all carry the
    /// name RunInstances gives them, `未命名`, so two or more of them are the directory
    /// `未命名/`".
    #[test]
    fn a_shared_name_is_a_directory_and_an_unusable_one_carries_the_id() {
        let entries = [
            entry("ins-00000001", "web"),
            entry("ins-00000002", "db"),
            entry("ins-00000003", "db"),
            entry("ins-00000004", ""),
            entry("ins-00000005", "a/b"),
            entry("ins-00000006", "a_b.ins-00000005"),
            entry("ins-00000007", ".."),
            entry("ins-00000008", "未命名"),
            entry("ins-00000009", "db"),
            entry("ins-0000000a", "未命名"),
        ];
        assert_eq!(
            shown(&entries),
            [
                "web -> ins-00000001",
                "db/ ins-00000002 ins-00000003 ins-00000009",
                "instance.ins-00000004 -> ins-00000004",
                "a_b.ins-00000005 -> ins-00000005",
                "a_b.ins-00000005.ins-00000006 -> ins-00000006",
                "instance.ins-00000007 -> ins-00000007",
                "未命名/ ins-00000008 ins-0000000a",
            ]
        );
        // Once one of two is gone, the name is a link again.
        assert_eq!(
            shown(&[entry("ins-00000003", "db"), entry("ins-00000001", "web")]),
            ["db -> ins-00000003", "web -> ins-00000001"]
        );
        assert_eq!(
            link_text(&entries[0].instance_id, 2),
            "../../instances/ins-00000001"
        );
        assert_eq!(
            link_text(&entries[0].instance_id, 3),
            "../../../instances/ins-00000001"
        );
    }

    /// A launch elsewhere that makes a name shared turns its link into a directory; the
    /// change feed drops the name's entry and the listing, and the directory's links lead
    /// to the instances.
    #[test]
    fn a_name_becomes_a_directory_and_the_change_feed_drops_its_entry() {
        let (_dir, fs, other, image) = two_mounts();
        let launch = walk(
            &other,
            &format!("regions/ap-guangzhou/custom/{image}/launch"),
        )
        .expect("launch");
        let run = r#"{"InstanceName":"web"}"#.as_bytes();
        other.write(launch.ino, run, &caller()).expect("launch");
        fs.changes().expect("changes");
        let links = walk(&fs, "regions/ap-guangzhou/by-name/instances").expect("dir");
        let web = walk(&fs, "regions/ap-guangzhou/by-name/instances/web").expect("web");
        assert_eq!(web.kind, EntryKind::Symlink);
        let first = fs.readlink(web.ino).expect("readlink");
        assert!(first.starts_with("../../instances/ins-"), "{first}");

        other.write(launch.ino, run, &caller()).expect("launch");
        let drop = fs.changes().expect("changes");
        for wanted in [
            Invalidation::Inode(links.ino),
            Invalidation::Entry {
                parent: links.ino,
                name: "web".to_string(),
            },
        ] {
            assert!(drop.contains(&wanted), "{wanted:?} in {drop:?}");
        }
        let web = walk(&fs, "regions/ap-guangzhou/by-name/instances/web").expect("web");
        assert_eq!(web.kind, EntryKind::Directory);
        assert_eq!(
            fs.getattr(web.ino).expect("getattr").kind,
            EntryKind::Directory
        );
        let members = fs.list(web.ino).expect("list");
        assert_eq!(members.len(), 2);
        assert!(members[0].name < members[1].name, "in InstanceId order");
        let first_id = first.trim_start_matches("../../instances/");
        let member = members
            .iter()
            .find(|m| m.name == first_id)
            .expect("the first instance's link");
        assert_eq!(member.attr.kind, EntryKind::Symlink);
        assert_eq!(
            fs.readlink(member.attr.ino).expect("readlink"),
            format!("../../../instances/{first_id}")
        );
        let link = walk(
            &fs,
            &format!("regions/ap-guangzhou/by-name/instances/web/{first_id}"),
        )
        .expect("link");
        assert_eq!(link.ino, member.attr.ino);
        // The old link's inode no longer names an entry; the listing shows the directory.
        let listed = fs.list(links.ino).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "web");
        assert_eq!(listed[0].attr.kind, EntryKind::Directory);
    }
}
