//! The simulation output table and its CSV form.

use crate::format::fmt_num;
use crate::solver::SolverStats;
use std::io::{self, Write};

/// One output row per data record, in dataset order.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRow {
    pub id: f64,
    pub time: f64,
    pub evid: u8,
    /// The DVID of the endpoint whose PRED, IPRED and DV the row holds;
    /// `None` for a model with a single unnamed endpoint.
    pub dvid: Option<f64>,
    /// Population prediction (all etas 0).
    pub pred: f64,
    /// Individual prediction (the subject's drawn etas).
    pub ipred: f64,
    /// Simulated observation; `None` on rows that are not observations.
    pub dv: Option<f64>,
    /// The model's output variables, in [`SimTable::output_names`] order,
    /// from the individual run.
    pub outputs: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimTable {
    pub output_names: Vec<String>,
    /// Whether the model selects endpoints by DVID: the table then has a
    /// DVID column after EVID.
    pub dvid_column: bool,
    pub rows: Vec<SimRow>,
    /// Solver work over all subjects and runs.
    pub stats: SolverStats,
}

impl SimTable {
    /// Column names: `ID TIME EVID PRED IPRED DV` then the outputs; with
    /// endpoints selected by DVID, `DVID` after `EVID`.
    pub fn columns(&self) -> Vec<String> {
        let dvid: &[&str] = if self.dvid_column { &["DVID"] } else { &[] };
        ["ID", "TIME", "EVID"]
            .iter()
            .chain(dvid)
            .chain(&["PRED", "IPRED", "DV"])
            .map(|s| s.to_string())
            .chain(self.output_names.iter().cloned())
            .collect()
    }

    /// Writes the table as CSV: a header, then one line per row; missing
    /// values as `.`, numbers via [`fmt_num`].
    pub fn write_csv(&self, w: impl Write) -> io::Result<()> {
        let mut w = io::BufWriter::new(w);
        writeln!(w, "{}", self.columns().join(","))?;
        for r in &self.rows {
            write!(w, "{},{},{},", fmt_num(r.id), fmt_num(r.time), r.evid)?;
            if self.dvid_column {
                write!(w, "{},", r.dvid.map_or_else(|| ".".to_string(), fmt_num))?;
            }
            write!(
                w,
                "{},{},{}",
                fmt_num(r.pred),
                fmt_num(r.ipred),
                r.dv.map_or_else(|| ".".to_string(), fmt_num)
            )?;
            for v in &r.outputs {
                write!(w, ",{}", fmt_num(*v))?;
            }
            writeln!(w)?;
        }
        w.flush()
    }
}
