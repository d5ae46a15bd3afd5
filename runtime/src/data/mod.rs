//! NONMEM-format datasets: reading, validating, grouping into subjects.
//!
//! # File format
//!
//! A header line, then one record per line. Fields are separated by commas
//! when the header contains a comma, otherwise by whitespace (NONMEM-style
//! `.dta` files). Header names are matched case-insensitively; a byte-order
//! mark and a `#` or `@` before the first name are ignored. `.` or an empty
//! field means missing.
//!
//! Comment rows are skipped, following NONMEM's IGNORE=@ / IGNORE=C / `#`
//! conventions: a data row is skipped when its first field starts with `#`,
//! `@` or a letter (e.g. `C`). Blank lines are skipped. The header is never
//! treated as a comment.
//!
//! # Items
//!
//! `ID` and `TIME` are required; `DV AMT EVID MDV CMT RATE II ADDL SS OCC DVID
//! CENS LLOQ` are optional (DVID is required when the model's endpoints are selected by
//! it, and may then also be an endpoint's name), as are columns the model does not use (ignored). Each model
//! covariate must have a column of the same name. Defaults: EVID = 1 when
//! AMT > 0, else 0; MDV = 1 when EVID ≠ 0; CMT on a dose = the first dosable
//! compartment. CMT is the 1-based position in the model's compartments.
//! The dose items (CMT, RATE, II, ADDL) are read only on dose records; SS is
//! checked on every record.
//!
//! # Censoring
//!
//! `CENS` (0 quantified, 1 below the lower limit of quantification) and
//! `LLOQ` (the limit, per record) give an observation its [`Lloq`]. On a
//! censored row DV holds the limit (NONMEM's M3 convention, Monolix's
//! too) unless `LLOQ` gives one, which then wins. Without `CENS` on a row,
//! `DV < LLOQ` marks it censored; `CENS = 0` with `DV < LLOQ` contradicts
//! itself and is rejected. Both items are validated on every row but only
//! read on observations (EVID 0, MDV 0, with a DV): a censored row with
//! MDV = 1 (the M1 method) is no observation.
//!
//! Everything the runtime cannot honour is rejected rather than guessed: see
//! [`DataErrorKind`] for the rules. All errors of a file are reported at once.

mod error;
mod rows;
mod table;

pub use error::{DataError, DataErrorKind, DataErrors, MAX_SHOWN};

use crate::model::{CovariateInfo, EndpointInfo, ModelInfo, RandomLevel, StateInfo};
use std::path::Path;

/// What a model needs from a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    /// Covariates, in the model's order; [`Subject::covariates`] follows it.
    pub covariates: Vec<CovariateInfo>,
    /// Compartments, in CMT order.
    pub states: Vec<StateInfo>,
    /// Whether every row needs OCC (the model has occasion-level etas).
    pub needs_occasion: bool,
    /// The model's endpoints, in order. When any has a DVID selector, every
    /// observation record needs a DVID naming one of them; otherwise (one
    /// unnamed endpoint, or none listed) DVID is ignored and every record
    /// belongs to endpoint 0.
    pub endpoints: Vec<EndpointInfo>,
}

impl DataSpec {
    pub fn from_info(info: &ModelInfo) -> Self {
        DataSpec {
            covariates: info.covariates.clone(),
            states: info.states.clone(),
            needs_occasion: info.etas.iter().any(|e| e.level == RandomLevel::Occasion),
            endpoints: info.endpoints.clone(),
        }
    }
}

/// A validated dataset: subjects in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where the data came from, for messages.
    pub source: String,
    pub subjects: Vec<Subject>,
}

/// The contiguous records of one ID.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub id: f64,
    /// The ID as written in the file (first occurrence), for messages.
    pub label: String,
    /// In file order; TIME is non-decreasing.
    pub records: Vec<Record>,
    /// The covariates of the first record (see [`Record::covariates`]).
    pub covariates: Vec<f64>,
}

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number in the file.
    pub row: usize,
    pub time: f64,
    pub evid: Evid,
    /// The observed value, if any.
    pub dv: Option<f64>,
    /// Missing dependent variable: the row is not an observation for fitting.
    pub mdv: bool,
    /// The limit of quantification of an observation (EVID 0, MDV 0, with a
    /// DV) that has one (CENS, LLOQ), and whether its value is below it;
    /// `None` on every other record.
    pub lloq: Option<Lloq>,
    /// Occasion (0 when the dataset has no OCC and the model needs none).
    pub occ: f64,
    /// The endpoint predicting this record: an index into the model's
    /// endpoints, chosen by DVID when the endpoints have selectors; 0 for a
    /// model with a single unnamed endpoint, for dose and reset records, and
    /// for EVID 2 records without a DVID.
    pub endpoint: usize,
    /// One value per [`DataSpec::covariates`] entry (codes for category and
    /// Bool covariates), as written on this row.
    pub covariates: Vec<f64>,
}

impl Record {
    /// The NONMEM EVID code.
    pub fn evid_code(&self) -> u8 {
        match self.evid {
            Evid::Observation => 0,
            Evid::Dose(_) => 1,
            Evid::Other => 2,
            Evid::Reset => 3,
            Evid::ResetDose(_) => 4,
        }
    }

    pub fn dose(&self) -> Option<&Dose> {
        match &self.evid {
            Evid::Dose(d) | Evid::ResetDose(d) => Some(d),
            _ => None,
        }
    }

    /// Whether `other` has the same occasion and covariates, to the bit:
    /// a model whose parameters ignore time then gives both the same
    /// individual parameters.
    pub fn same_inputs(&self, other: &Record) -> bool {
        self.occ.to_bits() == other.occ.to_bits()
            && self.covariates.len() == other.covariates.len()
            && self
                .covariates
                .iter()
                .zip(&other.covariates)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }

    /// Whether the record resets the system (EVID 3 and 4).
    pub fn resets(&self) -> bool {
        matches!(self.evid, Evid::Reset | Evid::ResetDose(_))
    }
}

/// An observation's lower limit of quantification, and which side of it
/// the value lies on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lloq {
    /// DV is a measured value (CENS = 0, or absent with DV ≥ LLOQ); the
    /// limit tells a VPC which simulated values the assay would have
    /// censored.
    Quantified(f64),
    /// The value is only known to be below this limit (CENS = 1, or DV <
    /// LLOQ without CENS); DV holds no measurement.
    Below(f64),
}

impl Lloq {
    pub fn limit(self) -> f64 {
        match self {
            Lloq::Quantified(l) | Lloq::Below(l) => l,
        }
    }

    pub fn is_below(self) -> bool {
        matches!(self, Lloq::Below(_))
    }
}

/// What a record is (EVID), with the dose only where there is one.
#[derive(Debug, Clone, PartialEq)]
pub enum Evid {
    /// EVID 0.
    Observation,
    /// EVID 1.
    Dose(Dose),
    /// EVID 2: a prediction point without a dose or an observation.
    Other,
    /// EVID 3: every compartment emptied, every pending dose cancelled.
    Reset,
    /// EVID 4: a reset, then a dose.
    ResetDose(Dose),
}

/// A validated dose into a dosable compartment.
#[derive(Debug, Clone, PartialEq)]
pub struct Dose {
    /// AMT: > 0, or 0 for a constant infusion at steady state.
    pub amount: f64,
    /// 0-based index into the model's states.
    pub cmt: usize,
    pub kind: DoseKind,
    /// ADDL/II: further identical doses.
    pub repeat: Option<Repeat>,
    /// SS with its interval.
    pub steady_state: Option<SteadyState>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DoseKind {
    Bolus,
    /// Zero-order infusion at `rate` (> 0) amount per time unit (RATE > 0).
    Infusion {
        rate: f64,
    },
    /// RATE = -1: the rate is the compartment's modeled `rate`.
    ModeledRate,
    /// RATE = -2: the duration is the compartment's modeled `duration`.
    ModeledDuration,
}

/// How a steady-state dose (SS > 0) combines with what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsMode {
    /// SS = 1: the system is reset, then brought to steady state.
    Reset,
    /// SS = 2: the steady state is added to the current amounts.
    Add,
    /// SS = 3: like SS = 1 (the iteration starts from the current amounts,
    /// which changes nothing for the models mido solves to convergence).
    ResetFromCurrent,
}

/// A steady-state dose: as if it had been given every `interval` forever.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadyState {
    pub mode: SsMode,
    /// II; 0 only for a constant infusion (AMT = 0, RATE > 0).
    pub interval: f64,
}

/// `additional` more doses, each `interval` after the previous (ADDL, II).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repeat {
    /// II, > 0.
    pub interval: f64,
    /// ADDL, ≥ 1.
    pub additional: u32,
}

impl Dataset {
    /// Reads and validates a dataset file.
    pub fn read(path: &Path, spec: &DataSpec) -> Result<Dataset, DataErrors> {
        let source = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Dataset::parse(&text, &source, spec),
            Err(e) => Err(DataErrors(vec![DataError {
                source,
                row: None,
                column: None,
                value: None,
                kind: DataErrorKind::Io {
                    message: e.to_string(),
                },
            }])),
        }
    }

    /// Validates dataset text; `source_name` labels messages.
    pub fn parse(text: &str, source_name: &str, spec: &DataSpec) -> Result<Dataset, DataErrors> {
        let whole = |kind, row| {
            DataErrors(vec![DataError {
                source: source_name.to_string(),
                row,
                column: None,
                value: None,
                kind,
            }])
        };
        let raw = match table::split(text) {
            Ok(raw) => raw,
            Err(table::TableError::Empty) => return Err(whole(DataErrorKind::Empty, None)),
            Err(table::TableError::Malformed { line, message }) => {
                return Err(whole(DataErrorKind::Malformed { message }, line))
            }
        };
        let subjects = rows::build(&raw, source_name, spec)?;
        Ok(Dataset {
            source: source_name.to_string(),
            subjects,
        })
    }

    /// Number of records over all subjects.
    pub fn n_records(&self) -> usize {
        self.subjects.iter().map(|s| s.records.len()).sum()
    }

    /// The first observation below its limit of quantification, with its
    /// subject.
    pub fn first_censored(&self) -> Option<(&Subject, &Record)> {
        self.subjects.iter().find_map(|s| {
            s.records
                .iter()
                .find(|r| r.lloq.is_some_and(Lloq::is_below))
                .map(|r| (s, r))
        })
    }
}
