//! The nodes of the tree and their inode numbers.
//!
//! An inode number encodes its node completely (region index, image kind, the image ID's
//! 42-bit base-36 value, file), so numbers are stable for the life of a mount, need no table,
//! and `forget` costs nothing: memory does not grow with the number of files visited.

use crate::model::{ImageId, ImageKind};

/// Regions a mount can show (6 bits of the inode number).
pub const MAX_REGIONS: usize = 64;

/// Files directly under `regions/<r>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionFile {
    RegionJson,
    QuotaJson,
    ImportOsJson,
    /// Control: ImportImage.
    Import,
}

impl RegionFile {
    pub const ALL: [RegionFile; 4] = [
        RegionFile::RegionJson,
        RegionFile::QuotaJson,
        RegionFile::ImportOsJson,
        RegionFile::Import,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RegionFile::RegionJson => "region.json",
            RegionFile::QuotaJson => "quota.json",
            RegionFile::ImportOsJson => "import-os.json",
            RegionFile::Import => "import",
        }
    }

    fn index(self) -> u64 {
        self as u64
    }
}

/// Files of an image directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFile {
    Metadata,
    Name,
    Description,
    State,
    Price,
    /// Control: RunInstances from this image.
    Launch,
    /// Control (custom): share with accounts; reads the accounts it is shared with.
    Share,
    /// Control (custom, write-only): stop sharing with accounts.
    Unshare,
    /// Control (custom, shared): SyncImages to regions.
    CopyTo,
    /// The image's tags, `key=value` lines; control (custom): replaces them.
    Tags,
    /// Control (custom): ExportImages to a bucket; reads the files written.
    Export,
}

impl ImageFile {
    pub const ALL: [ImageFile; 11] = [
        ImageFile::Metadata,
        ImageFile::Name,
        ImageFile::Description,
        ImageFile::State,
        ImageFile::Price,
        ImageFile::Launch,
        ImageFile::Share,
        ImageFile::Unshare,
        ImageFile::CopyTo,
        ImageFile::Tags,
        ImageFile::Export,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ImageFile::Metadata => "metadata.json",
            ImageFile::Name => "name",
            ImageFile::Description => "description",
            ImageFile::State => "state",
            ImageFile::Price => "price.json",
            ImageFile::Launch => "launch",
            ImageFile::Share => "share",
            ImageFile::Unshare => "unshare",
            ImageFile::CopyTo => "copy_to",
            ImageFile::Tags => "tags",
            ImageFile::Export => "export",
        }
    }

    /// Whether an image of `kind` has this file (docs/SEMANTICS.md, "Files" and "Control files").
    pub fn exists_for(self, kind: ImageKind) -> bool {
        match self {
            ImageFile::Share | ImageFile::Unshare | ImageFile::Export => kind == ImageKind::Custom,
            ImageFile::CopyTo => matches!(kind, ImageKind::Custom | ImageKind::Shared),
            ImageFile::Metadata
            | ImageFile::Name
            | ImageFile::Description
            | ImageFile::State
            | ImageFile::Price
            | ImageFile::Launch
            | ImageFile::Tags => true,
        }
    }

    fn index(self) -> u64 {
        self as u64
    }
}

/// Files of an instance directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceFile {
    Metadata,
    State,
    /// Control: CreateImage from this instance.
    CreateImage,
    /// Control: ResetInstance from an image.
    Reset,
    /// The instance's tags, `key=value` lines; control: replaces them.
    Tags,
}

impl InstanceFile {
    pub const ALL: [InstanceFile; 5] = [
        InstanceFile::Metadata,
        InstanceFile::State,
        InstanceFile::CreateImage,
        InstanceFile::Reset,
        InstanceFile::Tags,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InstanceFile::Metadata => "metadata.json",
            InstanceFile::State => "state",
            InstanceFile::CreateImage => "create_image",
            InstanceFile::Reset => "reset",
            InstanceFile::Tags => "tags",
        }
    }

    fn index(self) -> u64 {
        self as u64
    }
}

/// The control files: writing one is a command to the image service. Each names its file
/// the way [`Node`] does (region index, image kind, image or instance number).
///
/// A new control file is a variant here: the compiler then lists what it needs (its node,
/// permissions, whether it takes a truncate, what its command does, what it forgets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlFile {
    /// `regions/<r>/import`: ImportImage.
    Import(u8),
    /// A custom image's `name`: renames it (ModifyImageAttribute).
    Rename(u8, u64),
    /// A custom image's `description`: describes it anew (ModifyImageAttribute).
    Describe(u8, u64),
    /// An image's `launch`: RunInstances from it.
    Launch(u8, ImageKind, u64),
    /// A custom image's `share`: shares it with accounts.
    Share(u8, u64),
    /// A custom image's `unshare`: stops sharing it with accounts.
    Unshare(u8, u64),
    /// A custom or shared image's `copy_to`: SyncImages to regions.
    CopyTo(u8, ImageKind, u64),
    /// A custom image's `export`: ExportImages to a bucket.
    Export(u8, u64),
    /// An instance's `create_image`: CreateImage from it.
    CreateImage(u8, u64),
    /// An instance's `reset`: ResetInstance from an image.
    Reset(u8, u64),
    /// A custom image's `tags`: replaces its tags.
    ImageTags(u8, u64),
    /// An instance's `tags`: replaces its tags.
    InstanceTags(u8, u64),
}

impl ControlFile {
    /// The file's node.
    pub fn node(self) -> Node {
        let custom = ImageKind::Custom;
        match self {
            ControlFile::Import(r) => Node::RegionFile(r, RegionFile::Import),
            ControlFile::Rename(r, n) => Node::ImageFile(r, custom, n, ImageFile::Name),
            ControlFile::Describe(r, n) => Node::ImageFile(r, custom, n, ImageFile::Description),
            ControlFile::Launch(r, kind, n) => Node::ImageFile(r, kind, n, ImageFile::Launch),
            ControlFile::Share(r, n) => Node::ImageFile(r, custom, n, ImageFile::Share),
            ControlFile::Unshare(r, n) => Node::ImageFile(r, custom, n, ImageFile::Unshare),
            ControlFile::CopyTo(r, kind, n) => Node::ImageFile(r, kind, n, ImageFile::CopyTo),
            ControlFile::Export(r, n) => Node::ImageFile(r, custom, n, ImageFile::Export),
            ControlFile::CreateImage(r, n) => Node::InstanceFile(r, n, InstanceFile::CreateImage),
            ControlFile::Reset(r, n) => Node::InstanceFile(r, n, InstanceFile::Reset),
            ControlFile::ImageTags(r, n) => Node::ImageFile(r, custom, n, ImageFile::Tags),
            ControlFile::InstanceTags(r, n) => Node::InstanceFile(r, n, InstanceFile::Tags),
        }
    }
}

/// A node of the tree. Regions are referred to by their index in the mount's region list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    Root,
    AccountJson,
    Errors,
    Regions,
    Region(u8),
    RegionFile(u8, RegionFile),
    KindDir(u8, ImageKind),
    /// An image directory; the `u64` is the image ID's number ([`ImageId::number`]).
    ImageDir(u8, ImageKind, u64),
    ImageFile(u8, ImageKind, u64, ImageFile),
    InstancesDir(u8),
    /// An instance directory; the `u64` is the instance ID's number.
    InstanceDir(u8, u64),
    InstanceFile(u8, u64, InstanceFile),
    /// `regions/<r>/by-name/`.
    ByName(u8),
    /// `regions/<r>/by-name/<kind>/`.
    ByNameKind(u8, ImageKind),
    /// A symlink named after an image, to its directory.
    NameLink(u8, ImageKind, u64),
    /// `regions/<r>/families/`.
    Families(u8),
    /// A symlink named after a family, to the directory of the custom image it stands for
    /// (the `u64`).
    FamilyLink(u8, u64),
    /// `regions/<r>/by-name/instances/`.
    InstancesByName(u8),
    /// A symlink named after an instance, to its directory; the `u64` is the instance ID's
    /// number.
    InstanceNameLink(u8, u64),
    /// `by-name/instances/<name>/`, the directory of a name several instances share; the
    /// `u64` is the number of one of them (the lowest InstanceId when it was looked up).
    InstanceNameDir(u8, u64),
    /// A symlink in such a directory, named after its instance's ID, to its directory.
    InstanceNameDirLink(u8, u64),
}

const TAG_SHIFT: u32 = 56;
const REGION_SHIFT: u32 = 50;
const KIND_SHIFT: u32 = 47;
const ID_SHIFT: u32 = 5;
const ID_MASK: u64 = (1 << 42) - 1;

const TAG_REGION: u64 = 1;
const TAG_REGION_FILE: u64 = 2;
const TAG_KIND_DIR: u64 = 3;
const TAG_IMAGE_DIR: u64 = 4;
const TAG_IMAGE_FILE: u64 = 5;
const TAG_INSTANCES_DIR: u64 = 6;
const TAG_INSTANCE_DIR: u64 = 7;
const TAG_INSTANCE_FILE: u64 = 8;
const TAG_BY_NAME: u64 = 9;
const TAG_BY_NAME_KIND: u64 = 10;
const TAG_NAME_LINK: u64 = 11;
const TAG_VIEW: u64 = 12;
const TAG_FAMILIES: u64 = 13;
const TAG_FAMILY_LINK: u64 = 14;
// Apart from the tags above so that other new node kinds can take the next numbers.
const TAG_INSTANCES_BY_NAME: u64 = 20;
const TAG_INSTANCE_NAME_LINK: u64 = 21;
const TAG_INSTANCE_NAME_DIR: u64 = 22;
const TAG_INSTANCE_NAME_DIR_LINK: u64 = 23;

/// Serial numbers of views fit below the tag.
const VIEW_SERIAL_MASK: u64 = (1 << TAG_SHIFT) - 1;

/// The inode number of view `serial` of a control file: one reader's own copy of an outcome
/// (see `fs::core::views`). Views are not nodes: [`Node::from_ino`] names none of them.
pub fn view_ino(serial: u64) -> u64 {
    (TAG_VIEW << TAG_SHIFT) | (serial & VIEW_SERIAL_MASK)
}

/// The serial of the view an inode number names, if it names one.
pub fn view_serial(ino: u64) -> Option<u64> {
    (ino >> TAG_SHIFT == TAG_VIEW).then_some(ino & VIEW_SERIAL_MASK)
}

fn kind_index(kind: ImageKind) -> u64 {
    match kind {
        ImageKind::Public => 0,
        ImageKind::Custom => 1,
        ImageKind::Shared => 2,
        ImageKind::Marketplace => 3,
    }
}

fn kind_from_index(i: u64) -> Option<ImageKind> {
    ImageKind::ALL.get(usize::try_from(i).ok()?).copied()
}

impl Node {
    pub const ROOT_INO: u64 = 1;

    /// The node's inode number.
    pub fn ino(self) -> u64 {
        let region = |r: u8| u64::from(r) << REGION_SHIFT;
        match self {
            Node::Root => Self::ROOT_INO,
            Node::AccountJson => 2,
            Node::Errors => 3,
            Node::Regions => 4,
            Node::Region(r) => (TAG_REGION << TAG_SHIFT) | region(r),
            Node::RegionFile(r, f) => (TAG_REGION_FILE << TAG_SHIFT) | region(r) | f.index(),
            Node::KindDir(r, k) => {
                (TAG_KIND_DIR << TAG_SHIFT) | region(r) | (kind_index(k) << KIND_SHIFT)
            }
            Node::ImageDir(r, k, id) => {
                (TAG_IMAGE_DIR << TAG_SHIFT)
                    | region(r)
                    | (kind_index(k) << KIND_SHIFT)
                    | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::ImageFile(r, k, id, f) => {
                (TAG_IMAGE_FILE << TAG_SHIFT)
                    | region(r)
                    | (kind_index(k) << KIND_SHIFT)
                    | ((id & ID_MASK) << ID_SHIFT)
                    | f.index()
            }
            Node::InstancesDir(r) => (TAG_INSTANCES_DIR << TAG_SHIFT) | region(r),
            Node::InstanceDir(r, id) => {
                (TAG_INSTANCE_DIR << TAG_SHIFT) | region(r) | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::InstanceFile(r, id, f) => {
                (TAG_INSTANCE_FILE << TAG_SHIFT)
                    | region(r)
                    | ((id & ID_MASK) << ID_SHIFT)
                    | f.index()
            }
            Node::ByName(r) => (TAG_BY_NAME << TAG_SHIFT) | region(r),
            Node::ByNameKind(r, k) => {
                (TAG_BY_NAME_KIND << TAG_SHIFT) | region(r) | (kind_index(k) << KIND_SHIFT)
            }
            Node::NameLink(r, k, id) => {
                (TAG_NAME_LINK << TAG_SHIFT)
                    | region(r)
                    | (kind_index(k) << KIND_SHIFT)
                    | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::Families(r) => (TAG_FAMILIES << TAG_SHIFT) | region(r),
            Node::FamilyLink(r, id) => {
                (TAG_FAMILY_LINK << TAG_SHIFT) | region(r) | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::InstancesByName(r) => (TAG_INSTANCES_BY_NAME << TAG_SHIFT) | region(r),
            Node::InstanceNameLink(r, id) => {
                (TAG_INSTANCE_NAME_LINK << TAG_SHIFT) | region(r) | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::InstanceNameDir(r, id) => {
                (TAG_INSTANCE_NAME_DIR << TAG_SHIFT) | region(r) | ((id & ID_MASK) << ID_SHIFT)
            }
            Node::InstanceNameDirLink(r, id) => {
                (TAG_INSTANCE_NAME_DIR_LINK << TAG_SHIFT) | region(r) | ((id & ID_MASK) << ID_SHIFT)
            }
        }
    }

    /// The node an inode number names, if any.
    pub fn from_ino(ino: u64) -> Option<Node> {
        match ino {
            1 => return Some(Node::Root),
            2 => return Some(Node::AccountJson),
            3 => return Some(Node::Errors),
            4 => return Some(Node::Regions),
            _ => {}
        }
        let tag = ino >> TAG_SHIFT;
        let region = ((ino >> REGION_SHIFT) & 0x3f) as u8;
        let kind = (ino >> KIND_SHIFT) & 0x7;
        let id = (ino >> ID_SHIFT) & ID_MASK;
        let file = ino & 0x1f;
        let node = match tag {
            TAG_REGION => Node::Region(region),
            TAG_REGION_FILE => {
                Node::RegionFile(region, *RegionFile::ALL.get(usize::try_from(file).ok()?)?)
            }
            TAG_KIND_DIR => Node::KindDir(region, kind_from_index(kind)?),
            TAG_IMAGE_DIR => Node::ImageDir(region, kind_from_index(kind)?, id),
            TAG_IMAGE_FILE => Node::ImageFile(
                region,
                kind_from_index(kind)?,
                id,
                *ImageFile::ALL.get(usize::try_from(file).ok()?)?,
            ),
            TAG_INSTANCES_DIR => Node::InstancesDir(region),
            TAG_INSTANCE_DIR => Node::InstanceDir(region, id),
            TAG_INSTANCE_FILE => Node::InstanceFile(
                region,
                id,
                *InstanceFile::ALL.get(usize::try_from(file).ok()?)?,
            ),
            TAG_BY_NAME => Node::ByName(region),
            TAG_BY_NAME_KIND => Node::ByNameKind(region, kind_from_index(kind)?),
            TAG_NAME_LINK => Node::NameLink(region, kind_from_index(kind)?, id),
            TAG_FAMILIES => Node::Families(region),
            TAG_FAMILY_LINK => Node::FamilyLink(region, id),
            TAG_INSTANCES_BY_NAME => Node::InstancesByName(region),
            TAG_INSTANCE_NAME_LINK => Node::InstanceNameLink(region, id),
            TAG_INSTANCE_NAME_DIR => Node::InstanceNameDir(region, id),
            TAG_INSTANCE_NAME_DIR_LINK => Node::InstanceNameDirLink(region, id),
            _ => return None,
        };
        // Only canonical encodings name a node.
        (node.ino() == ino).then_some(node)
    }

    /// The directory containing this node.
    pub fn parent(self) -> Node {
        match self {
            Node::Root | Node::AccountJson | Node::Errors | Node::Regions => Node::Root,
            Node::Region(_) => Node::Regions,
            Node::RegionFile(r, _)
            | Node::KindDir(r, _)
            | Node::InstancesDir(r)
            | Node::ByName(r)
            | Node::Families(r) => Node::Region(r),
            Node::ByNameKind(r, _) => Node::ByName(r),
            Node::FamilyLink(r, _) => Node::Families(r),
            Node::NameLink(r, k, _) => Node::ByNameKind(r, k),
            Node::InstancesByName(r) => Node::ByName(r),
            Node::InstanceNameLink(r, _) | Node::InstanceNameDir(r, _) => Node::InstancesByName(r),
            // The directory of its instance's name, as reached through this instance.
            Node::InstanceNameDirLink(r, id) => Node::InstanceNameDir(r, id),
            Node::ImageDir(r, k, _) => Node::KindDir(r, k),
            Node::ImageFile(r, k, id, _) => Node::ImageDir(r, k, id),
            Node::InstanceDir(r, _) => Node::InstancesDir(r),
            Node::InstanceFile(r, id, _) => Node::InstanceDir(r, id),
        }
    }

    pub fn is_dir(self) -> bool {
        match self {
            Node::Root
            | Node::Regions
            | Node::Region(_)
            | Node::KindDir(..)
            | Node::ImageDir(..)
            | Node::InstancesDir(_)
            | Node::InstanceDir(..)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::Families(_)
            | Node::InstancesByName(_)
            | Node::InstanceNameDir(..) => true,
            Node::AccountJson
            | Node::Errors
            | Node::RegionFile(..)
            | Node::ImageFile(..)
            | Node::InstanceFile(..)
            | Node::NameLink(..)
            | Node::FamilyLink(..)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDirLink(..) => false,
        }
    }

    /// Control files: a write is a command to the image service.
    pub fn is_control(self) -> bool {
        self.control_file().is_some()
    }

    /// The control file this node is, if it is one.
    pub fn control_file(self) -> Option<ControlFile> {
        match self {
            Node::RegionFile(r, f) => match f {
                RegionFile::Import => Some(ControlFile::Import(r)),
                RegionFile::RegionJson | RegionFile::QuotaJson | RegionFile::ImportOsJson => None,
            },
            Node::ImageFile(r, kind, n, f) => {
                let custom = kind == ImageKind::Custom;
                match f {
                    ImageFile::Name => custom.then_some(ControlFile::Rename(r, n)),
                    ImageFile::Description => custom.then_some(ControlFile::Describe(r, n)),
                    ImageFile::Launch => Some(ControlFile::Launch(r, kind, n)),
                    ImageFile::Share => custom.then_some(ControlFile::Share(r, n)),
                    ImageFile::Unshare => custom.then_some(ControlFile::Unshare(r, n)),
                    ImageFile::CopyTo => f
                        .exists_for(kind)
                        .then_some(ControlFile::CopyTo(r, kind, n)),
                    ImageFile::Tags => custom.then_some(ControlFile::ImageTags(r, n)),
                    ImageFile::Export => custom.then_some(ControlFile::Export(r, n)),
                    ImageFile::Metadata | ImageFile::State | ImageFile::Price => None,
                }
            }
            Node::InstanceFile(r, n, f) => match f {
                InstanceFile::CreateImage => Some(ControlFile::CreateImage(r, n)),
                InstanceFile::Reset => Some(ControlFile::Reset(r, n)),
                InstanceFile::Tags => Some(ControlFile::InstanceTags(r, n)),
                InstanceFile::Metadata | InstanceFile::State => None,
            },
            Node::Root
            | Node::AccountJson
            | Node::Errors
            | Node::Regions
            | Node::Region(_)
            | Node::KindDir(..)
            | Node::ImageDir(..)
            | Node::InstancesDir(_)
            | Node::InstanceDir(..)
            | Node::ByName(_)
            | Node::ByNameKind(..)
            | Node::NameLink(..)
            | Node::Families(_)
            | Node::FamilyLink(..)
            | Node::InstancesByName(_)
            | Node::InstanceNameLink(..)
            | Node::InstanceNameDir(..)
            | Node::InstanceNameDirLink(..) => None,
        }
    }

    /// The region index of nodes inside a region.
    pub fn region(self) -> Option<u8> {
        match self {
            Node::Root | Node::AccountJson | Node::Errors | Node::Regions => None,
            Node::Region(r)
            | Node::RegionFile(r, _)
            | Node::KindDir(r, _)
            | Node::ImageDir(r, _, _)
            | Node::ImageFile(r, _, _, _)
            | Node::InstancesDir(r)
            | Node::InstanceDir(r, _)
            | Node::InstanceFile(r, _, _)
            | Node::ByName(r)
            | Node::ByNameKind(r, _)
            | Node::NameLink(r, _, _)
            | Node::Families(r)
            | Node::FamilyLink(r, _)
            | Node::InstancesByName(r)
            | Node::InstanceNameLink(r, _)
            | Node::InstanceNameDir(r, _)
            | Node::InstanceNameDirLink(r, _) => Some(r),
        }
    }
}

/// The image ID of an image node's number.
pub fn image_id(number: u64) -> Option<ImageId> {
    ImageId::from_number(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Node> {
        let id = ImageId::parse("img-9qabwvbn").expect("test value").number();
        let max = ImageId::parse("img-zzzzzzzz").expect("test value").number();
        let mut nodes = vec![Node::Root, Node::AccountJson, Node::Errors, Node::Regions];
        for r in [0u8, 1, 17, 63] {
            nodes.push(Node::Region(r));
            for f in RegionFile::ALL {
                nodes.push(Node::RegionFile(r, f));
            }
            nodes.push(Node::InstancesDir(r));
            nodes.push(Node::ByName(r));
            nodes.push(Node::Families(r));
            nodes.push(Node::FamilyLink(r, id));
            nodes.push(Node::InstancesByName(r));
            for n in [0, id, max] {
                nodes.push(Node::InstanceDir(r, n));
                nodes.push(Node::InstanceNameLink(r, n));
                nodes.push(Node::InstanceNameDir(r, n));
                nodes.push(Node::InstanceNameDirLink(r, n));
                for f in InstanceFile::ALL {
                    nodes.push(Node::InstanceFile(r, n, f));
                }
            }
            for k in ImageKind::ALL {
                nodes.push(Node::ByNameKind(r, k));
                nodes.push(Node::NameLink(r, k, id));
                nodes.push(Node::KindDir(r, k));
                for n in [0, id, max] {
                    nodes.push(Node::ImageDir(r, k, n));
                    for f in ImageFile::ALL {
                        nodes.push(Node::ImageFile(r, k, n, f));
                    }
                }
            }
        }
        nodes
    }

    #[test]
    fn inode_numbers_round_trip_and_are_unique() {
        let nodes = samples();
        let mut seen = std::collections::HashSet::new();
        for node in &nodes {
            let ino = node.ino();
            assert!(seen.insert(ino), "duplicate ino {ino:#x} for {node:?}");
            assert_eq!(Node::from_ino(ino), Some(*node), "{ino:#x}");
        }
    }

    #[test]
    fn unknown_numbers_name_nothing() {
        for ino in [
            0,
            5,
            u64::MAX,
            15 << TAG_SHIFT,
            (TAG_REGION_FILE << TAG_SHIFT) | 31,
        ] {
            assert_eq!(Node::from_ino(ino), None, "{ino:#x}");
        }
    }

    #[test]
    fn views_are_not_nodes() {
        for serial in [0, 1, 77, VIEW_SERIAL_MASK] {
            let ino = view_ino(serial);
            assert_eq!(view_serial(ino), Some(serial));
            assert_eq!(Node::from_ino(ino), None, "{ino:#x}");
        }
        for node in samples() {
            assert_eq!(view_serial(node.ino()), None, "{node:?}");
        }
    }

    #[test]
    fn control_files_name_their_node() {
        for node in samples() {
            if let Some(control) = node.control_file() {
                assert_eq!(control.node(), node, "{control:?}");
            }
        }
    }

    #[test]
    fn parents_are_directories() {
        for node in samples() {
            assert!(node.parent().is_dir(), "{node:?}");
        }
    }
}
