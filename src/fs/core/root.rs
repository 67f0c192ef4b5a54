//! The mount's top: `/` (`account.json`, `errors`, `regions/`) and `regions/`.

use super::{pretty_json, Attr, DirEntry, ImageFs};
use crate::error::Result;
use crate::fs::inode::Node;

/// The entry `name` of `/`.
pub(super) fn child(name: &str) -> Option<Node> {
    match name {
        "account.json" => Some(Node::AccountJson),
        "errors" => Some(Node::Errors),
        "regions" => Some(Node::Regions),
        _ => None,
    }
}

impl ImageFs {
    pub(super) fn list_root(&self) -> Result<Vec<DirEntry>> {
        Ok(vec![
            self.entry("account.json", Node::AccountJson)?,
            self.entry("errors", Node::Errors)?,
            self.entry("regions", Node::Regions)?,
        ])
    }

    pub(super) fn list_regions(&self) -> Result<Vec<DirEntry>> {
        (0..self.regions.len())
            .map(|i| {
                let r = u8::try_from(i).map_err(|_| super::no_such("region"))?;
                self.entry(&self.regions[i].region, Node::Region(r))
            })
            .collect()
    }

    pub(super) fn account_attr(&self) -> Result<Attr> {
        let node = Node::AccountJson;
        let content = self.render(node)?;
        Ok(self.versioned(node, &content, self.mounted_at))
    }

    /// `errors` changes with every line it takes.
    pub(super) fn errors_attr(&self) -> Result<Attr> {
        let node = Node::Errors;
        let changed = self.refusals.changed();
        let content = self.render(node)?;
        Ok(self.versioned(node, &content, changed))
    }

    pub(super) fn render_account(&self) -> Result<Vec<u8>> {
        pretty_json(&self.service.account()?)
    }
}
