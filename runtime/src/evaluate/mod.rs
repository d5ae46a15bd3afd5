//! Model evaluation on top of estimation: the nonparametric bootstrap
//! ([`bootstrap`]) and likelihood-ratio tests between nested fits
//! ([`lrt`]); visual predictive checks ([`vpc`]); normalized prediction
//! distribution errors ([`npde`]); stepwise covariate modeling ([`scm`]).
//!
//! Like the rest of the runtime this module neither parses nor touches
//! files: resumable logs, shards and tables on disk are the command line's.

pub mod bootstrap;
pub mod lrt;
pub mod npde;
pub mod scm;
pub mod vpc;
