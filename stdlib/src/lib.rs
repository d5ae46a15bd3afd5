//! The mido model library: model sources embedded in the binary, so that
//! they resolve without the filesystem.

/// Every library model as `(name, source)`.
pub const MODELS: &[(&str, &str)] = &[];

/// The source of a library model by name.
pub fn source(name: &str) -> Option<&'static str> {
    MODELS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
