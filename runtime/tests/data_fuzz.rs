//! The dataset reader never panics, whatever the text.

use mido_runtime::data::{DataSpec, Dataset};
use mido_runtime::model::{CovariateInfo, CovariateKind, EndpointInfo, ErrorModel, StateInfo};
use proptest::prelude::*;

fn spec() -> DataSpec {
    DataSpec {
        covariates: vec![CovariateInfo {
            name: "WT".into(),
            kind: CovariateKind::Category(vec![("a".into(), 1.0)]),
            time_varying: false,
            locf: false,
        }],
        states: vec![StateInfo {
            name: "c".into(),
            dosable: true,
        }],
        needs_occasion: true,
        endpoints: ["cp", "pca"]
            .iter()
            .enumerate()
            .map(|(i, name)| EndpointInfo {
                name: name.to_string(),
                dvid: Some(i as f64 + 1.0),
                error_model: ErrorModel::Additive,
                prediction: 2 * i,
            })
            .collect(),
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = Dataset::parse(&text, "fuzz.csv", &spec());
    }

    #[test]
    fn nonmem_like_text_never_panics(
        rows in proptest::collection::vec(
            "[0-9.\\-eE#@C ]{0,4}(,[0-9.\\-eEinfcpa ]{0,5}){0,15}", 0..20),
        whitespace in any::<bool>(),
    ) {
        let header = "ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,II,ADDL,SS,OCC,WT,DVID";
        let mut text = String::from(header);
        for r in rows {
            text.push('\n');
            text.push_str(&r);
        }
        if whitespace {
            text = text.replace(',', " ");
        }
        let _ = Dataset::parse(&text, "fuzz.csv", &spec());
    }
}
