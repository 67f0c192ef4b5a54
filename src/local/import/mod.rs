//! ImportImage: a local disk image file, read as the user who wrote the command, becomes a
//! custom image, IMPORTING until the transition delay has passed.

pub mod caller;
pub mod probe;
