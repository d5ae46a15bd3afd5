//! Dataset errors: one per rejected row or column, all collected before
//! reporting, so a user fixes a file in one pass rather than one error at a
//! time.

use std::fmt;

/// How many errors [`DataErrors`] displays before summarising the rest.
pub const MAX_SHOWN: usize = 50;

/// One broken rule, located as precisely as possible.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// File name (or the name given to [`super::Dataset::parse`]).
    pub source: String,
    /// 1-based line number in the file; `None` for whole-file problems.
    pub row: Option<usize>,
    /// Column name as written in the header.
    pub column: Option<String>,
    /// The offending text as written in the file.
    pub value: Option<String>,
    pub kind: DataErrorKind,
}

/// The rule a row or column breaks.
#[derive(Debug, Clone, PartialEq)]
pub enum DataErrorKind {
    /// The file could not be read.
    Io { message: String },
    /// No header line.
    Empty,
    /// The file is not valid CSV (e.g. an unterminated quote).
    Malformed { message: String },
    /// A required item or a model covariate has no column.
    MissingColumn { present: Vec<String> },
    /// Two columns have the same name (ignoring case).
    DuplicateColumn { first_column: usize },
    /// A row's field count differs from the header's.
    FieldCount { expected: usize, found: usize },
    /// A value that should be a number is not one.
    NotANumber,
    /// NaN or infinity.
    NotFinite,
    /// A required value is missing (`.` or empty).
    MissingValue,
    /// A value must be a whole number (EVID, CMT, ADDL, MDV).
    NotInteger,
    /// TIME smaller than the previous record's of the same subject.
    TimeDecreasing { previous: f64 },
    /// An ID reappears after another subject's records.
    SubjectNotContiguous { first_row: usize },
    /// EVID outside 0–4.
    InvalidEvid,
    /// MDV other than 0 or 1.
    InvalidMdv,
    /// CENS other than 0 or 1 (-1, an upper limit, is [`Self::Unsupported`]).
    InvalidCens,
    /// A negative limit of quantification: LLOQ, or DV on a censored row
    /// without LLOQ.
    NegativeLimit,
    /// CENS = 1 on an observation without DV: it would silently stop being
    /// an observation.
    CensoredWithoutDv,
    /// CENS = 0 but DV < LLOQ: the row says both quantified and not.
    QuantifiedBelowLimit { dv: f64, lloq: f64 },
    /// AMT < 0.
    NegativeAmount,
    /// A dose record (EVID 1) with AMT missing or 0.
    DoseWithoutAmount,
    /// AMT > 0 on a record that is not a dose.
    AmountOnNonDose { evid: u8 },
    /// CMT does not name a compartment of the model.
    NoSuchCompartment { n_states: usize },
    /// CMT names a compartment that does not accept doses.
    NotDosable { state: String },
    /// A dose without CMT, in a model with no dosable compartment.
    NoDosableCompartment,
    /// RATE negative but not one of the special codes.
    InvalidRate,
    /// II < 0.
    NegativeInterval,
    /// II > 0 without ADDL > 0.
    IntervalWithoutAddl,
    /// ADDL > 0 without II > 0.
    AddlWithoutInterval,
    /// ADDL < 0.
    NegativeAddl,
    /// ADDL beyond 2^32 - 1.
    AddlTooLarge,
    /// A valid NONMEM feature that mido does not implement yet.
    Unsupported { feature: &'static str },
    /// A Bool covariate other than 0 or 1.
    NotBool,
    /// A category covariate whose code is not declared.
    UnknownCategory { levels: Vec<(String, f64)> },
    /// A covariate value missing on a row.
    MissingCovariate,
    /// A covariate not declared `time-varying` changes within a subject.
    CovariateChanges { previous: f64, current: f64 },
    /// SS other than 0, 1, 2 or 3.
    InvalidSs,
    /// SS ≠ 0 without II > 0 (only a constant infusion, AMT = 0 and RATE > 0,
    /// reaches steady state without an interval).
    SteadyStateWithoutInterval,
    /// SS ≠ 0 with II = 0 and a dose other than a constant infusion.
    ConstantSteadyStateNeedsRate,
    /// OCC missing although the model has occasion-level random effects.
    MissingOccasion,
    /// No DVID column, although the model's endpoints are selected by DVID.
    /// `endpoints`: each endpoint's name and DVID.
    DvidColumnRequired { endpoints: Vec<(String, f64)> },
    /// A DVID (missing on an observation record, or present) that selects
    /// none of the model's endpoints.
    UnknownEndpoint { endpoints: Vec<(String, f64)> },
}

/// `1 (cp), 2 (pca)`.
fn list_endpoints(f: &mut fmt::Formatter<'_>, endpoints: &[(String, f64)]) -> fmt::Result {
    for (i, (name, dvid)) in endpoints.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{dvid} ({name})")?;
    }
    Ok(())
}

impl fmt::Display for DataErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataErrorKind as K;
        match self {
            K::Io { message } => write!(f, "cannot read the file: {message}"),
            K::Empty => write!(f, "the file has no header line"),
            K::Malformed { message } => write!(f, "not valid CSV: {message}"),
            K::MissingColumn { present } => write!(
                f,
                "the dataset has no such column; columns present: {}",
                present.join(", ")
            ),
            K::DuplicateColumn { first_column } => write!(
                f,
                "duplicate column name (same as column {first_column}, ignoring case)"
            ),
            K::FieldCount { expected, found } => write!(
                f,
                "the row has {found} fields but the header has {expected}"
            ),
            K::NotANumber => write!(f, "not a number"),
            K::NotFinite => write!(f, "must be a finite number"),
            K::MissingValue => write!(f, "a value is required here ('.' or empty means missing)"),
            K::NotInteger => write!(f, "must be a whole number"),
            K::TimeDecreasing { previous } => write!(
                f,
                "TIME decreases within the subject (previous record has TIME {previous}); \
                 records of a subject must be in time order"
            ),
            K::SubjectNotContiguous { first_row } => write!(
                f,
                "this ID already appeared in an earlier block of rows (from row {first_row}); \
                 all records of a subject must be contiguous"
            ),
            K::InvalidEvid => write!(f, "EVID must be 0, 1, 2, 3 or 4"),
            K::InvalidMdv => write!(f, "MDV must be 0 or 1"),
            K::InvalidCens => write!(
                f,
                "CENS must be 0 (quantified) or 1 (below the lower limit of quantification)"
            ),
            K::NegativeLimit => write!(f, "a limit of quantification must not be negative"),
            K::CensoredWithoutDv => write!(
                f,
                "a censored observation (CENS = 1) needs DV: the limit, by NONMEM's M3 convention \
                 (an LLOQ on the row takes precedence); set MDV = 1 if the row is no observation"
            ),
            K::QuantifiedBelowLimit { dv, lloq } => write!(
                f,
                "CENS = 0 says the value is quantified, but DV = {dv} is below LLOQ = {lloq}; \
                 set CENS = 1, or leave CENS empty so that DV < LLOQ marks the row censored"
            ),
            K::NegativeAmount => write!(f, "AMT must not be negative"),
            K::DoseWithoutAmount => write!(
                f,
                "a dose record (EVID 1 or 4) needs AMT > 0 (or AMT = 0 with RATE > 0 and SS = 1 for a constant infusion)"
            ),
            K::AmountOnNonDose { evid } => write!(
                f,
                "AMT > 0 on a record with EVID {evid}; only dose records (EVID 1 or 4) may carry an amount"
            ),
            K::NoSuchCompartment { n_states } => write!(
                f,
                "no such compartment: CMT must be between 1 and {n_states} (the model's compartments, in order)"
            ),
            K::NotDosable { state } => {
                write!(f, "compartment '{state}' does not accept doses")
            }
            K::NoDosableCompartment => write!(
                f,
                "dose record without CMT, and the model has no dosable compartment"
            ),
            K::InvalidRate => write!(
                f,
                "RATE must be ≥ 0 (0 = bolus, > 0 = zero-order infusion), -1 or -2"
            ),
            K::NegativeInterval => write!(f, "II must not be negative"),
            K::IntervalWithoutAddl => write!(
                f,
                "II > 0 requires ADDL > 0 or SS > 0"
            ),
            K::AddlWithoutInterval => write!(f, "ADDL > 0 requires II > 0"),
            K::NegativeAddl => write!(f, "ADDL must not be negative"),
            K::AddlTooLarge => write!(f, "ADDL must be below 4294967296"),
            K::Unsupported { feature } => write!(f, "{feature} is not supported yet"),
            K::NotBool => write!(f, "a Bool covariate must be 0 or 1"),
            K::UnknownCategory { levels } => {
                write!(f, "not a declared category code; levels: ")?;
                for (i, (name, code)) in levels.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{name} = {code}")?;
                }
                Ok(())
            }
            K::MissingCovariate => write!(
                f,
                "covariate value missing (NONMEM would read 0; mido rejects it instead)"
            ),
            K::CovariateChanges { previous, current } => write!(
                f,
                "covariate changes within the subject ({previous} → {current}) but the model does not \
                 declare it `time-varying`"
            ),
            K::InvalidSs => write!(f, "SS must be 0, 1, 2 or 3"),
            K::SteadyStateWithoutInterval => write!(
                f,
                "a steady-state dose (SS > 0) needs II > 0, unless it is a constant infusion (AMT = 0, RATE > 0)"
            ),
            K::ConstantSteadyStateNeedsRate => write!(
                f,
                "SS > 0 with II = 0 is a constant infusion at steady state: it needs AMT = 0 and RATE > 0"
            ),
            K::MissingOccasion => write!(
                f,
                "OCC is required on every row: the model has occasion-level random effects"
            ),
            K::DvidColumnRequired { endpoints } => {
                write!(
                    f,
                    "the model has endpoints selected by DVID, so the dataset needs a DVID column saying which \
                     one each observation belongs to; DVID values: "
                )?;
                list_endpoints(f, endpoints)
            }
            K::UnknownEndpoint { endpoints } => {
                write!(
                    f,
                    "DVID selects none of the model's endpoints (required on observation records); \
                     valid values, or the endpoint's name: "
                )?;
                list_endpoints(f, endpoints)
            }
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(col) = &self.column {
            write!(f, ", column {col}")?;
        }
        if let Some(v) = &self.value {
            write!(f, " = \"{v}\"")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DataError {}

/// Every error found in a dataset. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataErrors(pub Vec<DataError>);

impl DataErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, DataError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for DataErrors {
    /// One error per line, at most [`MAX_SHOWN`], then a count of the rest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().take(MAX_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > MAX_SHOWN {
            write!(f, "\n... and {} more errors", self.0.len() - MAX_SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for DataErrors {}
