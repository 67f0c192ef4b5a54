//! imagefs: cloud machine images (Tencent Cloud CVM) as a directory tree.
//!
//! `service::ImageService` is the seam between the filesystem (`fs`) and a backend (`local`,
//! the embedded emulator, or `tencent`, the real cloud). See `docs/SEMANTICS.md` for what users can rely on.

pub mod error;
pub mod fs;
pub mod local;
pub mod model;
pub mod mounts;
pub mod serve;
pub mod service;
pub mod tencent;

pub use error::{Error, Result};
