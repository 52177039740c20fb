//! The seed files: parsing and validating them, importing a corpus, and
//! exporting articles back to files.

pub mod escape;
pub mod export;
pub mod import;
pub mod layout;
pub mod parse;
