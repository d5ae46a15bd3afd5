//! The dataset reader never panics, whatever the text.

use mido_runtime::data::{DataSpec, Dataset};
use mido_runtime::model::{CovariateInfo, CovariateKind, StateInfo};
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
            "[0-9.\\-eE#@C ]{0,4}(,[0-9.\\-eEinf ]{0,5}){0,14}", 0..20),
        whitespace in any::<bool>(),
    ) {
        let header = "ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,II,ADDL,SS,OCC,WT";
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
