//! Turning text rows into validated records grouped by subject.
//!
//! Every rule is checked on every row and every violation is collected;
//! a row with any error contributes no record, and a file with any error
//! yields no dataset.

use super::error::{DataError, DataErrorKind as K, DataErrors};
use super::table::{RawRow, RawTable};
use super::{DataSpec, Dose, DoseKind, Evid, Lloq, Record, Repeat, SsMode, SteadyState, Subject};
use crate::model::CovariateKind;
use std::collections::HashMap;

/// Column indices of the items the runtime reads.
struct Columns {
    id: usize,
    time: usize,
    dv: Option<usize>,
    amt: Option<usize>,
    evid: Option<usize>,
    mdv: Option<usize>,
    cmt: Option<usize>,
    rate: Option<usize>,
    ii: Option<usize>,
    addl: Option<usize>,
    ss: Option<usize>,
    occ: Option<usize>,
    dvid: Option<usize>,
    cens: Option<usize>,
    lloq: Option<usize>,
    /// `(endpoint index, name, DVID)` of each endpoint with a DVID selector;
    /// empty when the model has none (DVID is then ignored).
    selectors: Vec<(usize, String, f64)>,
    /// One per spec covariate.
    covariates: Vec<usize>,
}

impl Columns {
    /// The endpoints selected by DVID as `(name, DVID)`, for messages.
    fn listed(&self) -> Vec<(String, f64)> {
        self.selectors
            .iter()
            .map(|(_, name, dvid)| (name.clone(), *dvid))
            .collect()
    }
}

pub(crate) fn build(
    raw: &RawTable,
    source: &str,
    spec: &DataSpec,
) -> Result<Vec<Subject>, DataErrors> {
    let mut errors = Vec::new();
    let cols = columns(&raw.header, source, spec, &mut errors);
    let Some(cols) = cols else {
        return Err(DataErrors(errors));
    };
    let mut grouper = Grouper::default();
    for row in &raw.rows {
        let mut ctx = RowCtx {
            source,
            header: &raw.header,
            row,
            errors: &mut errors,
            ok: true,
        };
        if !ctx.field_count_ok() {
            continue;
        }
        let parsed = parse_row(&mut ctx, &cols, spec);
        grouper.add(&mut ctx, &cols, spec, parsed);
    }
    if errors.is_empty() {
        Ok(grouper.subjects)
    } else {
        Err(DataErrors(errors))
    }
}

/// Finds the item and covariate columns; reports missing and duplicate ones.
fn columns(
    header: &[String],
    source: &str,
    spec: &DataSpec,
    errors: &mut Vec<DataError>,
) -> Option<Columns> {
    let upper: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
    let mut problems: Vec<(String, K)> = Vec::new();
    let mut find = |name: &str| -> Option<usize> {
        let wanted = name.to_uppercase();
        let mut hits = upper.iter().enumerate().filter(|(_, h)| **h == wanted);
        let first = hits.next().map(|(i, _)| i)?;
        for (i, _) in hits {
            let kind = K::DuplicateColumn {
                first_column: first + 1,
            };
            problems.push((header[i].clone(), kind));
        }
        Some(first)
    };
    let id = find("ID");
    let time = find("TIME");
    let mut cols = Columns {
        id: 0,
        time: 0,
        dv: find("DV"),
        amt: find("AMT"),
        evid: find("EVID"),
        mdv: find("MDV"),
        cmt: find("CMT"),
        rate: find("RATE"),
        ii: find("II"),
        addl: find("ADDL"),
        ss: find("SS"),
        occ: find("OCC"),
        dvid: find("DVID"),
        cens: find("CENS"),
        lloq: find("LLOQ"),
        selectors: spec
            .endpoints
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e.name.clone(), e.dvid?)))
            .collect(),
        covariates: Vec::with_capacity(spec.covariates.len()),
    };
    let cov_cols: Vec<Option<usize>> = spec.covariates.iter().map(|c| find(&c.name)).collect();
    if !cols.selectors.is_empty() && cols.dvid.is_none() {
        let kind = K::DvidColumnRequired {
            endpoints: cols.listed(),
        };
        problems.push(("DVID".into(), kind));
    }
    let mut missing: Vec<String> = Vec::new();
    if id.is_none() {
        missing.push("ID".into());
    }
    if time.is_none() {
        missing.push("TIME".into());
    }
    if spec.needs_occasion && cols.occ.is_none() {
        missing.push("OCC".into());
    }
    for (c, col) in spec.covariates.iter().zip(&cov_cols) {
        match col {
            Some(i) => cols.covariates.push(*i),
            None => missing.push(c.name.clone()),
        }
    }
    for name in missing {
        let kind = K::MissingColumn {
            present: header.to_vec(),
        };
        problems.push((name, kind));
    }
    let ok = problems.is_empty();
    errors.extend(problems.into_iter().map(|(column, kind)| DataError {
        source: source.to_string(),
        row: None,
        column: Some(column),
        value: None,
        kind,
    }));
    match (id, time) {
        (Some(id), Some(time)) if ok => {
            cols.id = id;
            cols.time = time;
            Some(cols)
        }
        _ => None,
    }
}

/// A field as read: absent (no column, `.` or empty), a number, or bad
/// (already reported).
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Absent,
    Value(f64),
    Bad,
}

impl Field {
    /// The value, `default` when absent, `None` when bad.
    fn or(self, default: f64) -> Option<f64> {
        match self {
            Field::Absent => Some(default),
            Field::Value(v) => Some(v),
            Field::Bad => None,
        }
    }
}

/// One row being validated, with the error sink.
struct RowCtx<'a> {
    source: &'a str,
    header: &'a [String],
    row: &'a RawRow,
    errors: &'a mut Vec<DataError>,
    /// False once any error was reported for this row.
    ok: bool,
}

impl RowCtx<'_> {
    fn text(&self, col: usize) -> &str {
        self.row.fields.get(col).map_or("", String::as_str)
    }

    /// Reports `kind` at column `col` (by header name, `fallback` if the
    /// column does not exist), quoting the field's text.
    fn err_at(&mut self, col: Option<usize>, fallback: &str, kind: K) {
        let (column, value) = match col {
            Some(c) => (
                self.header.get(c).cloned().unwrap_or_default(),
                Some(self.text(c).to_string()),
            ),
            None => (fallback.to_string(), None),
        };
        self.errors.push(DataError {
            source: self.source.to_string(),
            row: Some(self.row.line),
            column: Some(column),
            value,
            kind,
        });
        self.ok = false;
    }

    fn err(&mut self, col: usize, kind: K) {
        self.err_at(Some(col), "", kind);
    }

    fn field_count_ok(&mut self) -> bool {
        let (expected, found) = (self.header.len(), self.row.fields.len());
        let extra_nonempty = self.row.fields.iter().skip(expected).any(|f| !f.is_empty());
        if found < expected || extra_nonempty {
            self.errors.push(DataError {
                source: self.source.to_string(),
                row: Some(self.row.line),
                column: None,
                value: None,
                kind: K::FieldCount { expected, found },
            });
            return false;
        }
        true
    }

    fn num(&mut self, col: Option<usize>) -> Field {
        let Some(c) = col else {
            return Field::Absent;
        };
        let t = self.text(c);
        if t.is_empty() || t == "." {
            return Field::Absent;
        }
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Field::Value(v),
            Ok(_) => {
                self.err(c, K::NotFinite);
                Field::Bad
            }
            Err(_) => {
                self.err(c, K::NotANumber);
                Field::Bad
            }
        }
    }

    fn required(&mut self, col: usize) -> Option<f64> {
        match self.num(Some(col)) {
            Field::Value(v) => Some(v),
            Field::Absent => {
                self.err(col, K::MissingValue);
                None
            }
            Field::Bad => None,
        }
    }

    /// A whole number, or an error at `col`.
    fn integer(&mut self, col: Option<usize>, v: f64) -> Option<f64> {
        if v.fract() == 0.0 {
            Some(v)
        } else {
            self.err_at(col, "", K::NotInteger);
            None
        }
    }
}

/// The values of one row, before grouping.
struct Parsed {
    id: Option<f64>,
    time: Option<f64>,
    record: Option<Record>,
    /// `None` where missing or invalid (already reported).
    covariates: Vec<Option<f64>>,
}

fn parse_row(ctx: &mut RowCtx, cols: &Columns, spec: &DataSpec) -> Parsed {
    let id = ctx.required(cols.id);
    let time = ctx.required(cols.time);
    let dv = match ctx.num(cols.dv) {
        Field::Value(v) => Some(v),
        _ => None,
    };
    let amt = ctx.num(cols.amt).or(0.0);
    if let Some(a) = amt {
        if a < 0.0 {
            ctx.err_at(cols.amt, "AMT", K::NegativeAmount);
        }
    }
    let evid = evid(ctx, cols, amt);
    let mdv = match ctx.num(cols.mdv) {
        Field::Absent => evid.map(|e| e != 0),
        Field::Value(v) if v == 0.0 || v == 1.0 => Some(v == 1.0),
        Field::Value(_) => {
            ctx.err_at(cols.mdv, "MDV", K::InvalidMdv);
            None
        }
        Field::Bad => None,
    };
    let ss = match ctx.num(cols.ss) {
        Field::Absent => Some(None),
        Field::Value(0.0) => Some(None),
        Field::Value(1.0) => Some(Some(SsMode::Reset)),
        Field::Value(2.0) => Some(Some(SsMode::Add)),
        Field::Value(3.0) => Some(Some(SsMode::ResetFromCurrent)),
        Field::Value(_) => {
            ctx.err_at(cols.ss, "SS", K::InvalidSs);
            None
        }
        Field::Bad => None,
    };
    let occ = match ctx.num(cols.occ) {
        Field::Value(v) => Some(v),
        Field::Absent if spec.needs_occasion => {
            ctx.err_at(cols.occ, "OCC", K::MissingOccasion);
            None
        }
        Field::Absent => Some(0.0),
        Field::Bad => None,
    };
    let evid = match evid {
        Some(e @ (1 | 4)) => amt.and_then(|a| dose(ctx, cols, spec, a, ss)).map(|d| {
            if e == 4 {
                Evid::ResetDose(d)
            } else {
                Evid::Dose(d)
            }
        }),
        Some(e) => {
            if amt.is_some_and(|a| a > 0.0) {
                ctx.err_at(cols.amt, "AMT", K::AmountOnNonDose { evid: e });
            }
            Some(match e {
                0 => Evid::Observation,
                3 => Evid::Reset,
                _ => Evid::Other,
            })
        }
        None => None,
    };
    let is_observation = matches!(evid, Some(Evid::Observation)) && mdv == Some(false);
    let lloq = lloq(ctx, cols, is_observation, dv);
    let endpoint = endpoint(ctx, cols, evid.as_ref());
    let covariates = spec
        .covariates
        .iter()
        .zip(&cols.covariates)
        .map(|(c, &col)| covariate(ctx, col, &c.kind))
        .collect();
    let record = match (time, evid, mdv, occ, endpoint) {
        (Some(time), Some(evid), Some(mdv), Some(occ), Some(endpoint)) if ctx.ok => Some(Record {
            row: ctx.row.line,
            time,
            evid,
            dv,
            mdv,
            lloq,
            occ,
            endpoint,
            covariates: Vec::new(),
        }),
        _ => None,
    };
    Parsed {
        id,
        time,
        record,
        covariates,
    }
}

/// The endpoint of a record (see [`Record::endpoint`]): by DVID, a number
/// equal to a selector or an endpoint's name (any case). Required on
/// observation records, optional on EVID 2, ignored elsewhere.
fn endpoint(ctx: &mut RowCtx, cols: &Columns, evid: Option<&Evid>) -> Option<usize> {
    let (Some(col), false) = (cols.dvid, cols.selectors.is_empty()) else {
        return Some(0);
    };
    let required = match evid {
        Some(Evid::Observation) => true,
        Some(Evid::Other) => false,
        _ => return Some(0),
    };
    let text = ctx.text(col);
    if text.is_empty() || text == "." {
        if required {
            let endpoints = cols.listed();
            ctx.err(col, K::UnknownEndpoint { endpoints });
            return None;
        }
        return Some(0);
    }
    let by_name = cols
        .selectors
        .iter()
        .find(|(_, name, _)| name.eq_ignore_ascii_case(text));
    let by_value = || {
        let v = text.parse::<f64>().ok()?;
        cols.selectors.iter().find(|(_, _, dvid)| *dvid == v)
    };
    match by_name.or_else(by_value) {
        Some((i, _, _)) => Some(*i),
        None => {
            let endpoints = cols.listed();
            ctx.err(col, K::UnknownEndpoint { endpoints });
            None
        }
    }
}

/// The censoring of a row (see the module documentation): CENS and LLOQ
/// are checked on every row, and read only on an observation (with its DV).
fn lloq(ctx: &mut RowCtx, cols: &Columns, is_observation: bool, dv: Option<f64>) -> Option<Lloq> {
    let cens = match ctx.num(cols.cens) {
        Field::Absent => Some(None),
        Field::Value(v) if v == 0.0 || v == 1.0 => Some(Some(v == 1.0)),
        Field::Value(-1.0) => {
            let feature = "CENS = -1 (a value above an upper limit of quantification)";
            ctx.err_at(cols.cens, "CENS", K::Unsupported { feature });
            None
        }
        Field::Value(_) => {
            ctx.err_at(cols.cens, "CENS", K::InvalidCens);
            None
        }
        Field::Bad => None,
    };
    let limit = match ctx.num(cols.lloq) {
        Field::Absent => Some(None),
        Field::Value(v) if v < 0.0 => {
            ctx.err_at(cols.lloq, "LLOQ", K::NegativeLimit);
            None
        }
        Field::Value(v) => Some(Some(v)),
        Field::Bad => None,
    };
    let (Some(cens), Some(limit), true) = (cens, limit, is_observation) else {
        return None;
    };
    match (cens, limit, dv) {
        (Some(true), _, None) => {
            ctx.err_at(cols.dv, "DV", K::CensoredWithoutDv);
            None
        }
        (Some(true), Some(l), Some(_)) => Some(Lloq::Below(l)),
        (Some(true), None, Some(d)) if d < 0.0 => {
            ctx.err_at(cols.dv, "DV", K::NegativeLimit);
            None
        }
        (Some(true), None, Some(d)) => Some(Lloq::Below(d)),
        (Some(false), Some(lloq), Some(dv)) if dv < lloq => {
            ctx.err_at(cols.cens, "CENS", K::QuantifiedBelowLimit { dv, lloq });
            None
        }
        (None, Some(l), Some(d)) if d < l => Some(Lloq::Below(l)),
        (_, Some(l), Some(_)) => Some(Lloq::Quantified(l)),
        (_, _, None) | (_, None, _) => None,
    }
}

/// EVID as given or implied by AMT.
fn evid(ctx: &mut RowCtx, cols: &Columns, amt: Option<f64>) -> Option<u8> {
    match ctx.num(cols.evid) {
        Field::Absent => amt.map(|a| u8::from(a > 0.0)),
        Field::Value(v) if v.fract() == 0.0 && (0.0..=4.0).contains(&v) => Some(v as u8),
        Field::Value(_) => {
            ctx.err_at(cols.evid, "EVID", K::InvalidEvid);
            None
        }
        Field::Bad => None,
    }
}

/// The dose of an EVID 1 or 4 record with amount `amt` (already checked
/// ≥ 0) and the SS item.
fn dose(
    ctx: &mut RowCtx,
    cols: &Columns,
    spec: &DataSpec,
    amt: f64,
    ss_item: Option<Option<SsMode>>,
) -> Option<Dose> {
    // `None`: SS itself was invalid (reported); checks that depend on it stay quiet.
    let ss = ss_item.flatten();
    let cmt = compartment(ctx, cols, spec);
    let kind = match ctx.num(cols.rate).or(0.0) {
        Some(0.0) => Some(DoseKind::Bolus),
        Some(r) if r > 0.0 => Some(DoseKind::Infusion { rate: r }),
        Some(-1.0) => Some(DoseKind::ModeledRate),
        Some(-2.0) => Some(DoseKind::ModeledDuration),
        Some(_) => {
            ctx.err_at(cols.rate, "RATE", K::InvalidRate);
            None
        }
        None => None,
    };
    let constant_infusion = amt == 0.0 && matches!(kind, Some(DoseKind::Infusion { .. }));
    if amt <= 0.0 && !(constant_infusion && ss.is_some()) {
        if amt == 0.0 {
            ctx.err_at(cols.amt, "AMT", K::DoseWithoutAmount);
        }
        return None;
    }
    let ii = match ctx.num(cols.ii).or(0.0) {
        Some(v) if v < 0.0 => {
            ctx.err_at(cols.ii, "II", K::NegativeInterval);
            None
        }
        other => other,
    };
    let addl = match ctx.num(cols.addl).or(0.0) {
        Some(v) if v < 0.0 => {
            ctx.err_at(cols.addl, "ADDL", K::NegativeAddl);
            None
        }
        Some(v) if v > f64::from(u32::MAX) => {
            ctx.err_at(cols.addl, "ADDL", K::AddlTooLarge);
            None
        }
        Some(v) => ctx.integer(cols.addl, v).map(|v| v as u32),
        None => None,
    };
    let steady_state = match (ss, ii) {
        (None, _) => Some(None),
        (Some(mode), Some(ii)) if ii > 0.0 => Some(Some(SteadyState { mode, interval: ii })),
        (Some(mode), Some(_)) if constant_infusion => Some(Some(SteadyState {
            mode,
            interval: 0.0,
        })),
        (Some(_), Some(_)) => {
            let kind = if amt > 0.0 {
                K::SteadyStateWithoutInterval
            } else {
                K::ConstantSteadyStateNeedsRate
            };
            ctx.err_at(cols.ii, "II", kind);
            None
        }
        (Some(_), None) => None,
    };
    let repeat = match (ii, addl) {
        (Some(ii), Some(addl)) => {
            if ii > 0.0 && addl == 0 && ss_item == Some(None) {
                ctx.err_at(cols.ii, "II", K::IntervalWithoutAddl);
                None
            } else if addl > 0 && ii == 0.0 {
                ctx.err_at(cols.addl, "ADDL", K::AddlWithoutInterval);
                None
            } else if addl > 0 {
                Some(Some(Repeat {
                    interval: ii,
                    additional: addl,
                }))
            } else {
                Some(None)
            }
        }
        _ => None,
    };
    Some(Dose {
        amount: amt,
        cmt: cmt?,
        kind: kind?,
        repeat: repeat?,
        steady_state: steady_state?,
    })
}

/// The 0-based dose compartment: CMT if given, else the first dosable one.
fn compartment(ctx: &mut RowCtx, cols: &Columns, spec: &DataSpec) -> Option<usize> {
    let n = spec.states.len();
    match ctx.num(cols.cmt) {
        Field::Absent => match spec.states.iter().position(|s| s.dosable) {
            Some(i) => Some(i),
            None => {
                ctx.err_at(cols.cmt, "CMT", K::NoDosableCompartment);
                None
            }
        },
        Field::Value(v) => {
            let v = ctx.integer(cols.cmt, v)?;
            if v < 1.0 || v > n as f64 {
                ctx.err_at(cols.cmt, "CMT", K::NoSuchCompartment { n_states: n });
                return None;
            }
            let i = v as usize - 1;
            let state = &spec.states[i];
            if !state.dosable {
                ctx.err_at(
                    cols.cmt,
                    "CMT",
                    K::NotDosable {
                        state: state.name.clone(),
                    },
                );
                return None;
            }
            Some(i)
        }
        Field::Bad => None,
    }
}

/// A covariate value checked against its kind.
fn covariate(ctx: &mut RowCtx, col: usize, kind: &CovariateKind) -> Option<f64> {
    let v = match ctx.num(Some(col)) {
        Field::Value(v) => v,
        Field::Absent => {
            ctx.err(col, K::MissingCovariate);
            return None;
        }
        Field::Bad => return None,
    };
    match kind {
        CovariateKind::Real => Some(v),
        CovariateKind::Bool if v == 0.0 || v == 1.0 => Some(v),
        CovariateKind::Bool => {
            ctx.err(col, K::NotBool);
            None
        }
        CovariateKind::Category(levels) if levels.iter().any(|(_, code)| *code == v) => Some(v),
        CovariateKind::Category(levels) => {
            ctx.err(
                col,
                K::UnknownCategory {
                    levels: levels.clone(),
                },
            );
            None
        }
    }
}

/// Groups rows into subjects and checks the rules that span rows.
#[derive(Default)]
struct Grouper {
    subjects: Vec<Subject>,
    /// First row of each ID's block, by the ID's bit pattern.
    first_row: HashMap<u64, usize>,
    /// The current block's ID.
    current: Option<f64>,
    previous_time: Option<f64>,
    /// Reference covariate values of the current subject (first valid one).
    reference: Vec<Option<f64>>,
}

fn id_key(id: f64) -> u64 {
    // -0 and 0 are the same subject.
    (id + 0.0).to_bits()
}

impl Grouper {
    fn add(&mut self, ctx: &mut RowCtx, cols: &Columns, spec: &DataSpec, parsed: Parsed) {
        let Some(id) = parsed.id else {
            return;
        };
        if self.current != Some(id) {
            self.current = Some(id);
            self.previous_time = None;
            self.reference = vec![None; parsed.covariates.len()];
            if let Some(&first_row) = self.first_row.get(&id_key(id)) {
                ctx.err(cols.id, K::SubjectNotContiguous { first_row });
            } else {
                self.first_row.insert(id_key(id), ctx.row.line);
                self.subjects.push(Subject {
                    id,
                    label: ctx.text(cols.id).to_string(),
                    records: Vec::new(),
                    covariates: Vec::new(),
                });
            }
        }
        if let Some(t) = parsed.time {
            match self.previous_time {
                Some(p) if t < p => ctx.err(cols.time, K::TimeDecreasing { previous: p }),
                _ => self.previous_time = Some(t),
            }
        }
        for (j, value) in parsed.covariates.iter().enumerate() {
            let (Some(v), Some(slot)) = (value, self.reference.get_mut(j)) else {
                continue;
            };
            let time_varying = spec.covariates.get(j).is_some_and(|c| c.time_varying);
            match slot {
                None => *slot = Some(*v),
                Some(_) if time_varying => {}
                Some(previous) if previous != v => {
                    let kind = K::CovariateChanges {
                        previous: *previous,
                        current: *v,
                    };
                    // Report each change once, not every row after it.
                    *slot = Some(*v);
                    ctx.err(cols.covariates[j], kind);
                }
                Some(_) => {}
            }
        }
        if let (true, Some(mut record), Some(subject)) =
            (ctx.ok, parsed.record, self.subjects.last_mut())
        {
            record.covariates = parsed.covariates.iter().map(|v| v.unwrap_or(0.0)).collect();
            if subject.records.is_empty() {
                subject.covariates = record.covariates.clone();
            }
            subject.records.push(record);
        }
    }
}
