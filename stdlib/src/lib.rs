//! The mido model library: model sources embedded in the binary, so that
//! they resolve without the filesystem.

/// Every library model as `(name, source)`, sorted by name.
pub const MODELS: &[(&str, &str)] = &[
    (
        "pd_effect_cpt_emax",
        include_str!("../models/pd_effect_cpt_emax.mido"),
    ),
    (
        "pd_indirect_response_1",
        include_str!("../models/pd_indirect_response_1.mido"),
    ),
    ("pk_1cpt_iv", include_str!("../models/pk_1cpt_iv.mido")),
    ("pk_1cpt_mm", include_str!("../models/pk_1cpt_mm.mido")),
    ("pk_1cpt_oral", include_str!("../models/pk_1cpt_oral.mido")),
    (
        "pk_1cpt_oral_transit",
        include_str!("../models/pk_1cpt_oral_transit.mido"),
    ),
    ("pk_2cpt_iv", include_str!("../models/pk_2cpt_iv.mido")),
    ("pk_2cpt_oral", include_str!("../models/pk_2cpt_oral.mido")),
    ("pk_2cpt_tmdd", include_str!("../models/pk_2cpt_tmdd.mido")),
    ("pk_3cpt_iv", include_str!("../models/pk_3cpt_iv.mido")),
];

/// The source of a library model by name.
pub fn source(name: &str) -> Option<&'static str> {
    MODELS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_sorted_and_named_after_their_header() {
        let names: Vec<&str> = MODELS.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for (name, src) in MODELS {
            let header = src.lines().next().unwrap_or_default();
            assert_eq!(header, format!("model {name}"), "{name}");
        }
    }
}
