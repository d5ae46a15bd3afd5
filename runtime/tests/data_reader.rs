//! Dataset reading: accepted formats and one test per rejection rule, each
//! checking that the message names the row, the column and the rule.

use mido_runtime::data::{
    DataErrorKind, DataErrors, DataSpec, Dataset, DoseKind, Evid, Lloq, Repeat, SsMode, SteadyState,
};
use mido_runtime::model::{CovariateInfo, CovariateKind, StateInfo};

fn spec() -> DataSpec {
    DataSpec {
        covariates: vec![
            CovariateInfo {
                name: "WT".into(),
                kind: CovariateKind::Real,
                time_varying: false,
                locf: false,
            },
            CovariateInfo {
                name: "SEX".into(),
                kind: CovariateKind::Bool,
                time_varying: false,
                locf: false,
            },
            CovariateInfo {
                name: "RACE".into(),
                kind: CovariateKind::Category(vec![
                    ("white".into(), 1.0),
                    ("black".into(), 2.0),
                    ("asian".into(), 3.0),
                ]),
                time_varying: false,
                locf: false,
            },
        ],
        states: vec![
            StateInfo {
                name: "depot".into(),
                dosable: true,
            },
            StateInfo {
                name: "central".into(),
                dosable: true,
            },
            StateInfo {
                name: "periph".into(),
                dosable: false,
            },
        ],
        needs_occasion: false,
        endpoints: vec![],
    }
}

const HEADER: &str = "ID,TIME,DV,AMT,EVID,MDV,CMT,RATE,II,ADDL,SS,WT,SEX,RACE";

fn parse(rows: &str) -> Result<Dataset, DataErrors> {
    Dataset::parse(&format!("{HEADER}\n{rows}"), "pk.csv", &spec())
}

/// Parses rows that must fail; returns the single error's message.
fn one_error(rows: &str) -> (DataErrorKind, String) {
    let errors = parse(rows).expect_err("rows should be rejected");
    assert_eq!(errors.len(), 1, "expected one error, got:\n{errors}");
    let e = &errors.0[0];
    (e.kind.clone(), e.to_string())
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should mention {p:?}");
    }
}

#[test]
fn valid_file_builds_subjects_records_and_doses() {
    let data = parse(
        "1,0,.,100,1,1,1,0,12,2,0,70,1,2\n\
         1,1,5.5,.,0,0,.,.,.,.,.,70,1,2\n\
         2,0,.,50,1,1,2,25,.,.,.,60.5,0,3\n\
         2,4,.,.,2,.,.,.,.,.,.,60.5,0,3\n",
    )
    .expect("valid");
    assert_eq!(data.source, "pk.csv");
    assert_eq!(data.subjects.len(), 2);
    let s1 = &data.subjects[0];
    assert_eq!(s1.covariates, vec![70.0, 1.0, 2.0]);
    let d = s1.records[0].dose().expect("dose");
    assert_eq!((d.amount, d.cmt, d.kind), (100.0, 0, DoseKind::Bolus));
    assert_eq!(
        d.repeat,
        Some(Repeat {
            interval: 12.0,
            additional: 2
        })
    );
    assert_eq!(s1.records[1].dv, Some(5.5));
    assert!(!s1.records[1].mdv);
    assert_eq!(s1.records[1].row, 3);
    let s2 = &data.subjects[1];
    let d = s2.records[0].dose().expect("dose");
    assert_eq!((d.cmt, d.kind), (1, DoseKind::Infusion { rate: 25.0 }));
    assert_eq!(s2.records[1].evid, Evid::Other);
    assert!(s2.records[1].mdv, "MDV defaults to 1 when EVID ≠ 0");
}

#[test]
fn defaults_evid_from_amt_and_cmt_to_first_dosable() {
    let spec = DataSpec {
        covariates: vec![],
        states: vec![
            StateInfo {
                name: "a".into(),
                dosable: false,
            },
            StateInfo {
                name: "b".into(),
                dosable: true,
            },
        ],
        needs_occasion: false,
        endpoints: vec![],
    };
    let data =
        Dataset::parse("ID,TIME,AMT,DV\n1,0,10,.\n1,1,.,3\n", "x.csv", &spec).expect("valid");
    let r = &data.subjects[0].records;
    assert_eq!(r[0].dose().map(|d| d.cmt), Some(1));
    assert!(r[0].mdv);
    assert_eq!(r[1].evid, Evid::Observation);
    assert!(!r[1].mdv);
}

#[test]
fn header_is_case_insensitive_and_extra_columns_are_ignored() {
    let text = "id,Time,dv,Amt,wt,Sex,race,NOTES\n1,0,.,10,70,0,1,anything\n";
    let data = Dataset::parse(text, "x.csv", &spec()).expect("valid");
    assert_eq!(data.subjects[0].covariates, vec![70.0, 0.0, 1.0]);
}

#[test]
fn comment_rows_are_skipped_and_rows_keep_file_line_numbers() {
    let text = "ID,TIME,AMT,WT,SEX,RACE\n\
                # a comment\n\
                C,this row is ignored,,,,\n\
                @ also ignored\n\
                \n\
                1,0,10,70,0,1\n";
    let data = Dataset::parse(text, "x.csv", &spec()).expect("valid");
    assert_eq!(data.n_records(), 1);
    assert_eq!(data.subjects[0].records[0].row, 6);
}

#[test]
fn byte_order_mark_and_hash_before_header_are_ignored() {
    let text = "\u{feff}#ID,TIME,AMT,WT,SEX,RACE\n1,0,10,70,0,1\n";
    let data = Dataset::parse(text, "x.csv", &spec()).expect("valid");
    assert_eq!(data.subjects[0].id, 1.0);
}

#[test]
fn whitespace_separated_file_is_read() {
    let text = "ID TIME AMT DV WT SEX RACE\n1 0 100 . 70 1 3\n1\t2\t.\t4.5\t70\t1\t3\n";
    let data = Dataset::parse(text, "x.dta", &spec()).expect("valid");
    assert_eq!(data.subjects[0].records.len(), 2);
    assert_eq!(data.subjects[0].records[1].dv, Some(4.5));
}

#[test]
fn missing_covariate_column_lists_columns_present() {
    let errors =
        Dataset::parse("ID,TIME,WT,SEX\n1,0,70,1\n", "x.csv", &spec()).expect_err("no RACE");
    let msg = errors.to_string();
    assert_eq!(errors.len(), 1);
    assert_mentions(&msg, &["column RACE", "columns present: ID, TIME, WT, SEX"]);
}

#[test]
fn missing_id_or_time_column_is_an_error() {
    let errors = Dataset::parse("TIME,WT,SEX,RACE\n0,70,1,1\n", "x.csv", &spec()).expect_err("");
    assert_mentions(&errors.to_string(), &["column ID", "no such column"]);
}

#[test]
fn duplicate_column_is_an_error() {
    let errors = Dataset::parse("ID,TIME,time,WT,SEX,RACE\n1,0,0,70,1,1\n", "x.csv", &spec())
        .expect_err("dup");
    assert_mentions(&errors.to_string(), &["column time", "duplicate"]);
}

#[test]
fn non_numeric_value_names_row_column_and_value() {
    let (kind, msg) = one_error("1,abc,.,.,0,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::NotANumber);
    assert_mentions(
        &msg,
        &["pk.csv", "row 2", "column TIME", "\"abc\"", "not a number"],
    );
}

#[test]
fn missing_time_is_an_error() {
    let (kind, msg) = one_error("1,.,.,.,0,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::MissingValue);
    assert_mentions(&msg, &["row 2", "column TIME"]);
}

#[test]
fn decreasing_time_within_subject_is_an_error() {
    let (kind, msg) = one_error(
        "1,5,.,.,0,.,.,.,.,.,.,70,1,1\n\
         1,4,.,.,0,.,.,.,.,.,.,70,1,1\n",
    );
    assert!(matches!(kind, DataErrorKind::TimeDecreasing { .. }));
    assert_mentions(&msg, &["row 3", "column TIME", "\"4\"", "decreases"]);
}

#[test]
fn subject_reappearing_after_another_is_an_error() {
    let (kind, msg) = one_error(
        "1,0,.,.,0,.,.,.,.,.,.,70,1,1\n\
         2,0,.,.,0,.,.,.,.,.,.,70,1,1\n\
         1,5,.,.,0,.,.,.,.,.,.,70,1,1\n",
    );
    assert_eq!(kind, DataErrorKind::SubjectNotContiguous { first_row: 2 });
    assert_mentions(&msg, &["row 4", "column ID", "contiguous"]);
}

#[test]
fn negative_amount_is_an_error() {
    let (kind, msg) = one_error("1,0,.,-5,0,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::NegativeAmount);
    assert_mentions(&msg, &["row 2", "column AMT", "\"-5\"", "negative"]);
}

#[test]
fn dose_record_without_amount_is_an_error() {
    let (kind, msg) = one_error("1,0,.,0,1,.,1,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::DoseWithoutAmount);
    assert_mentions(&msg, &["row 2", "column AMT", "EVID 1"]);
}

#[test]
fn amount_on_observation_record_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,0,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::AmountOnNonDose { evid: 0 });
    assert_mentions(&msg, &["row 2", "column AMT", "only dose records"]);
}

#[test]
fn dose_into_non_dosable_compartment_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,3,.,.,.,.,70,1,1\n");
    assert!(matches!(kind, DataErrorKind::NotDosable { .. }));
    assert_mentions(
        &msg,
        &[
            "row 2",
            "column CMT",
            "\"3\"",
            "'periph'",
            "does not accept doses",
        ],
    );
}

#[test]
fn dose_into_nonexistent_compartment_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,4,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::NoSuchCompartment { n_states: 3 });
    assert_mentions(&msg, &["row 2", "column CMT", "between 1 and 3"]);
}

#[test]
fn fractional_compartment_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1.5,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::NotInteger);
    assert_mentions(&msg, &["row 2", "column CMT", "whole number"]);
}

#[test]
fn interval_without_addl_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,.,12,0,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::IntervalWithoutAddl);
    assert_mentions(&msg, &["row 2", "column II", "requires ADDL > 0"]);
}

#[test]
fn addl_without_interval_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,.,.,3,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::AddlWithoutInterval);
    assert_mentions(&msg, &["row 2", "column ADDL", "requires II > 0"]);
}

#[test]
fn negative_addl_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,.,12,-1,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::NegativeAddl);
    assert_mentions(&msg, &["row 2", "column ADDL"]);
}

#[test]
fn other_negative_rate_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,-3,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::InvalidRate);
    assert_mentions(&msg, &["row 2", "column RATE", "\"-3\""]);
}

#[test]
fn evid_outside_range_is_an_error() {
    let (kind, msg) = one_error("1,0,.,.,7,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::InvalidEvid);
    assert_mentions(&msg, &["row 2", "column EVID", "\"7\"", "0, 1, 2, 3 or 4"]);
}

#[test]
fn mdv_must_be_zero_or_one() {
    let (kind, msg) = one_error("1,0,.,.,0,2,.,.,.,.,.,70,1,1\n");
    assert_eq!(kind, DataErrorKind::InvalidMdv);
    assert_mentions(&msg, &["row 2", "column MDV"]);
}

#[test]
fn bool_covariate_must_be_zero_or_one() {
    let (kind, msg) = one_error("1,0,.,.,0,.,.,.,.,.,.,70,2,1\n");
    assert_eq!(kind, DataErrorKind::NotBool);
    assert_mentions(&msg, &["row 2", "column SEX", "\"2\"", "0 or 1"]);
}

#[test]
fn category_covariate_must_be_a_declared_code() {
    let (kind, msg) = one_error("1,0,.,.,0,.,.,.,.,.,.,70,1,9\n");
    assert!(matches!(kind, DataErrorKind::UnknownCategory { .. }));
    assert_mentions(
        &msg,
        &["row 2", "column RACE", "\"9\"", "white = 1", "asian = 3"],
    );
}

#[test]
fn missing_covariate_value_is_rejected_not_read_as_zero() {
    let (kind, msg) = one_error("1,0,.,.,0,.,.,.,.,.,.,.,1,1\n");
    assert_eq!(kind, DataErrorKind::MissingCovariate);
    assert_mentions(&msg, &["row 2", "column WT", "NONMEM would read 0"]);
}

#[test]
fn non_finite_covariate_is_an_error() {
    let (kind, msg) = one_error("1,0,.,.,0,.,.,.,.,.,.,inf,1,1\n");
    assert_eq!(kind, DataErrorKind::NotFinite);
    assert_mentions(&msg, &["row 2", "column WT"]);
}

#[test]
fn occasion_is_required_when_model_has_occasion_etas() {
    let mut spec = spec();
    spec.covariates.clear();
    spec.needs_occasion = true;
    let errors = Dataset::parse("ID,TIME\n1,0\n", "x.csv", &spec).expect_err("no OCC");
    assert_mentions(
        &errors.to_string(),
        &["column OCC", "columns present: ID, TIME"],
    );
    let errors = Dataset::parse("ID,TIME,OCC\n1,0,1\n1,1,.\n", "x.csv", &spec).expect_err("");
    assert_mentions(
        &errors.to_string(),
        &["row 3", "column OCC", "occasion-level"],
    );
    let data = Dataset::parse("ID,TIME,OCC\n1,0,1\n1,1,2\n", "x.csv", &spec).expect("valid");
    assert_eq!(data.subjects[0].records[1].occ, 2.0);
}

#[test]
fn wrong_field_count_is_an_error() {
    let (kind, msg) = one_error("1,0,.\n");
    assert_eq!(
        kind,
        DataErrorKind::FieldCount {
            expected: 14,
            found: 3
        }
    );
    assert_mentions(&msg, &["row 2", "3 fields", "header has 14"]);
}

#[test]
fn all_errors_are_collected_and_display_is_capped() {
    let rows: String = (0..60)
        .map(|i| format!("1,{i},.,-1,0,.,.,.,.,.,.,70,1,1\n"))
        .collect();
    let errors = parse(&rows).expect_err("60 bad rows");
    assert_eq!(errors.len(), 60);
    let msg = errors.to_string();
    assert_eq!(msg.lines().count(), 51);
    assert!(msg.ends_with("... and 10 more errors"), "{msg}");
    assert!(msg.contains("row 51") && !msg.contains("row 52"));
}

#[test]
fn unreadable_file_is_an_error() {
    let errors = Dataset::read(std::path::Path::new("/nonexistent/pk.csv"), &spec())
        .expect_err("no such file");
    assert_mentions(&errors.to_string(), &["/nonexistent/pk.csv", "cannot read"]);
}

#[test]
fn empty_file_is_an_error() {
    let errors = Dataset::parse("  \n\n", "x.csv", &spec()).expect_err("empty");
    assert_eq!(errors.0[0].kind, DataErrorKind::Empty);
}

fn first_record(rows: &str) -> mido_runtime::data::Record {
    let data = parse(rows).expect("valid rows");
    data.subjects[0].records[0].clone()
}

#[test]
fn steady_state_doses_carry_their_mode_and_interval() {
    for (ss, mode) in [
        ("1", SsMode::Reset),
        ("2", SsMode::Add),
        ("3", SsMode::ResetFromCurrent),
    ] {
        let r = first_record(&format!("1,0,.,10,1,.,1,.,12,.,{ss},70,1,1\n"));
        assert_eq!(
            r.dose().and_then(|d| d.steady_state),
            Some(SteadyState {
                mode,
                interval: 12.0
            })
        );
    }
}

#[test]
fn steady_state_without_interval_is_an_error_unless_a_constant_infusion() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,.,.,.,1,70,1,1\n");
    assert_eq!(kind, DataErrorKind::SteadyStateWithoutInterval);
    assert_mentions(&msg, &["row 2", "column II", "SS > 0"]);
    let r = first_record("1,0,.,0,1,.,1,50,.,.,1,70,1,1\n");
    let dose = r.dose().expect("a constant infusion at steady state");
    assert_eq!(dose.kind, DoseKind::Infusion { rate: 50.0 });
    assert_eq!(
        dose.steady_state,
        Some(SteadyState {
            mode: SsMode::Reset,
            interval: 0.0
        })
    );
}

#[test]
fn ss_outside_zero_to_three_is_an_error() {
    let (kind, msg) = one_error("1,0,.,10,1,.,1,.,12,.,5,70,1,1\n");
    assert_eq!(kind, DataErrorKind::InvalidSs);
    assert_mentions(&msg, &["row 2", "column SS", "0, 1, 2 or 3"]);
}

#[test]
fn modeled_rate_and_duration_are_read() {
    for (rate, kind) in [
        ("-1", DoseKind::ModeledRate),
        ("-2", DoseKind::ModeledDuration),
    ] {
        let r = first_record(&format!("1,0,.,10,1,.,1,{rate},.,.,.,70,1,1\n"));
        assert_eq!(r.dose().map(|d| d.kind), Some(kind));
    }
}

#[test]
fn reset_records_are_read() {
    let r = first_record("1,0,.,.,3,.,.,.,.,.,.,70,1,1\n");
    assert_eq!(r.evid, Evid::Reset);
    assert_eq!(r.evid_code(), 3);
    let r = first_record("1,0,.,100,4,.,1,.,.,.,.,70,1,1\n");
    assert!(matches!(r.evid, Evid::ResetDose(_)));
    assert!(r.resets());
    assert_eq!(r.dose().map(|d| d.amount), Some(100.0));
}

#[test]
fn covariate_changing_within_subject_must_be_declared_time_varying() {
    let (kind, msg) = one_error(
        "1,0,.,.,0,.,.,.,.,.,.,70,1,1\n\
         1,1,.,.,0,.,.,.,.,.,.,72,1,1\n",
    );
    assert_eq!(
        kind,
        DataErrorKind::CovariateChanges {
            previous: 70.0,
            current: 72.0
        }
    );
    assert_mentions(
        &msg,
        &[
            "row 3",
            "column WT",
            "70 → 72",
            "does not declare it `time-varying`",
        ],
    );

    let mut spec = spec();
    spec.covariates[0].time_varying = true;
    let data = Dataset::parse(
        &format!("{HEADER}\n1,0,.,.,0,.,.,.,.,.,.,70,1,1\n1,1,.,.,0,.,.,.,.,.,.,72,1,1\n"),
        "pk.csv",
        &spec,
    )
    .expect("a declared time-varying covariate may change");
    let wt: Vec<f64> = data.subjects[0]
        .records
        .iter()
        .map(|r| r.covariates[0])
        .collect();
    assert_eq!(wt, vec![70.0, 72.0]);
}

/// Rows of `ID,TIME,DV,EVID,MDV,CENS,LLOQ` (covariates constant).
fn parse_censored(rows: &str) -> Result<Dataset, DataErrors> {
    let rows: String = rows.lines().map(|l| format!("{l},70,1,1\n")).collect();
    Dataset::parse(
        &format!("ID,TIME,DV,EVID,MDV,CENS,LLOQ,WT,SEX,RACE\n{rows}"),
        "blq.csv",
        &spec(),
    )
}

#[test]
fn censoring_gives_observations_their_limit() {
    let data = parse_censored(
        "1,1,0.5,0,0,1,.\n\
         1,2,0.5,0,0,1,2\n\
         1,3,1.5,0,0,.,2\n\
         1,4,3,0,0,.,2\n\
         1,5,3,0,0,0,2\n\
         1,6,4,0,0,0,.\n\
         1,7,2,0,1,1,2\n\
         1,8,.,0,0,.,2\n\
         1,9,.,2,.,1,2\n",
    )
    .expect("valid rows");
    let lloq: Vec<Option<Lloq>> = data.subjects[0].records.iter().map(|r| r.lloq).collect();
    assert_eq!(
        lloq,
        vec![
            // M3: DV holds the limit.
            Some(Lloq::Below(0.5)),
            // LLOQ wins over DV.
            Some(Lloq::Below(2.0)),
            // No CENS: DV < LLOQ is censored, DV ≥ LLOQ quantified.
            Some(Lloq::Below(2.0)),
            Some(Lloq::Quantified(2.0)),
            Some(Lloq::Quantified(2.0)),
            // Quantified without a known limit.
            None,
            // MDV = 1 (M1), no DV, not an observation: no censoring.
            None,
            None,
            None,
        ]
    );
    let (subject, record) = data.first_censored().expect("censored");
    assert_eq!((subject.label.as_str(), record.row), ("1", 2));
    let plain = parse_censored("1,1,3,0,0,0,2\n").expect("valid");
    assert!(plain.first_censored().is_none());
}

#[test]
fn censoring_values_are_checked_with_row_and_column() {
    let one = |rows: &str| {
        let errors = parse_censored(rows).expect_err("rejected");
        assert_eq!(errors.len(), 1, "{errors}");
        (errors.0[0].kind.clone(), errors.0[0].to_string())
    };
    let (kind, msg) = one("1,1,0.5,0,0,2,.\n");
    assert_eq!(kind, DataErrorKind::InvalidCens);
    assert_mentions(
        &msg,
        &[
            "blq.csv, row 2",
            "column CENS",
            "\"2\"",
            "0 (quantified) or 1",
        ],
    );
    // Checked on every row, not only observations.
    let (kind, msg) = one("1,0,.,2,1,0.5,.\n");
    assert_eq!(kind, DataErrorKind::InvalidCens);
    assert_mentions(&msg, &["row 2", "column CENS"]);
    let (kind, msg) = one("1,1,0.5,0,0,-1,.\n");
    assert!(matches!(kind, DataErrorKind::Unsupported { .. }));
    assert_mentions(
        &msg,
        &["row 2", "column CENS", "upper limit", "not supported"],
    );
    let (kind, msg) = one("1,1,3,0,0,0,-2\n");
    assert_eq!(kind, DataErrorKind::NegativeLimit);
    assert_mentions(&msg, &["row 2", "column LLOQ", "must not be negative"]);
    let (kind, msg) = one("1,1,3,0,0,0,inf\n");
    assert_eq!(kind, DataErrorKind::NotFinite);
    assert_mentions(&msg, &["row 2", "column LLOQ"]);
    let (kind, msg) = one("1,1,-0.1,0,0,1,.\n");
    assert_eq!(kind, DataErrorKind::NegativeLimit);
    assert_mentions(&msg, &["row 2", "column DV"]);
    let (kind, msg) = one("1,1,.,0,0,1,2\n");
    assert_eq!(kind, DataErrorKind::CensoredWithoutDv);
    assert_mentions(&msg, &["row 2", "column DV", "M3", "MDV = 1"]);
    let (kind, msg) = one("1,1,1.5,0,0,0,2\n");
    assert_eq!(
        kind,
        DataErrorKind::QuantifiedBelowLimit { dv: 1.5, lloq: 2.0 }
    );
    assert_mentions(
        &msg,
        &["row 2", "column CENS", "DV = 1.5 is below LLOQ = 2"],
    );
}
