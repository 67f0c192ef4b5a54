//! ExportImages.

mod disk;
